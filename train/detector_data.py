"""Photos with face boxes for the face detector: splits by photo, what is no face, and doorway augmentation.

Every scene set (``images/`` + Pascal VOC ``annotations/``) gives photos. A photo's split is fixed by its
name: the walk-through's held-out photos (``train.split.held_out``) are the test split of every source, a
further eighth (sha1's last hex digit 3 or 4) is validation, the rest is training; copies across sources were
removed when the sets were made (../shared/README.md), so no photo straddles two splits.

What a box-less part of a photo is matters as much as the boxes: crowds are not boxed exhaustively, so a
stock-YuNet face there that no box and no review accounts for is *ignored* (neither face nor background),
while the reviewed false faces (``train/reviewed/negatives-review.json``: backs of heads, hands, patterns;
``zoom-review.json``: what round 5 found at walk-through zooms on training photos) are *hard negatives*, and the
reviewed unboxed faces (``walkthrough-unboxed.json``, and the faces and doubtful ones of ``zoom-review.json``) are
neither face nor background.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.crops import iou_matrix
from edge.images import read_image
from train.dataset import DatasetError, is_scene_set, voc_faces
from train.split import held_out

REVIEWED = Path(__file__).with_name("reviewed")
NEGATIVES = REVIEWED / "negatives-review.json"
UNBOXED = REVIEWED / "walkthrough-unboxed.json"
ZOOMS = REVIEWED / "zoom-review.json"
MINED = Path(__file__).with_name("mined") / "negatives.json"
STOCK = Path("../shared/models/face/face_detection_yunet_2026may.onnx")
SOURCES = [Path("../shared/datasets/scenes-ilc"), Path("../shared/datasets/scenes-ap27")]
SPLITS = ("train", "val", "test")
MIN_BOX = 6  # px in a training crop: smaller boxes are ignored, not taught
STOCK_DOUBT = 0.1  # a stock-YuNet score this high makes a mined false face more likely a face nobody boxed
KEEP_VISIBLE = 0.6  # of a face's box inside the crop: less, and it is ignored (its mask may be outside)
# Crops centred on a false face, at the sizes faces are taught: crops centred on faces rarely hold the hands,
# microphones and lace a camera closing in on someone sees large (round 2 taught them as background and its
# false faces' objectness fell only from 0.14 to 0.07, median of 84).
NEGATIVE_CROPS = 0.3


def split_of(name: str) -> str:
    if held_out(name):
        return "test"
    return "val" if hashlib.sha1(name.encode()).hexdigest()[-1] in "34" else "train"


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area, of every corner box in ``a`` with every one in ``b``: a part
    of a face inside a face's box overlaps it wholly, however unlike their IoU."""
    a, b = (np.asarray(x, np.float64).reshape(-1, 4) for x in (a, b))
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.maximum(bottom_right - top_left, 0), axis=2)
    area = np.prod(a[:, 2:] - a[:, :2], axis=1)[:, None], np.prod(b[:, 2:] - b[:, :2], axis=1)[None, :]
    return inter / np.maximum(np.minimum(*area), 1e-9)


def corner_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box in ``a`` with every one in ``b``."""
    a, b = (np.asarray(x, np.float64).reshape(-1, 4) for x in (a, b))
    return iou_matrix(np.hstack([a[:, :2], a[:, 2:] - a[:, :2]]), np.hstack([b[:, :2], b[:, 2:] - b[:, :2]]))


def _corners(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.hstack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])


@dataclass
class Photo:
    """One photo's boxes, corners (x0, y0, x1, y1) in its pixels."""

    path: Path
    source: str
    boxes: np.ndarray
    labels: list[str]
    negatives: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    faces_unboxed: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    ignore: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    @property
    def name(self) -> str:
        return self.path.stem


def _reviews() -> tuple[dict, dict, dict]:
    negatives = json.loads(NEGATIVES.read_text())["not_faces"]
    unboxed = json.loads(UNBOXED.read_text())
    walkthrough_negatives = unboxed["not_faces"]
    merged = {name: list(negatives.get(name, [])) + list(walkthrough_negatives.get(name, []))
              for name in set(negatives) | set(walkthrough_negatives)}
    return merged, unboxed["faces"], negatives


def _zoom_review() -> tuple[dict, dict]:
    """``zoom-review.json`` by source/photo: its false faces, and its faces with the doubtful ones (x, y, w, h)."""
    review = json.loads(ZOOMS.read_text())
    not_background = {key: review["faces"].get(key, []) + review["unsure"].get(key, [])
                      for key in set(review["faces"]) | set(review["unsure"])}
    return review["not_faces"], not_background


def photos(sources: list[Path], split: str) -> list[Photo]:
    """The photos of ``split`` in every source, with the reviews that concern them."""
    negatives, unboxed, _ = _reviews()
    zoom_negatives, zoom_unboxed = _zoom_review()
    found = []
    for source in sources:
        source = Path(source)
        if not is_scene_set(source):
            raise DatasetError(f"{source} is not a scene set (images/ and annotations/) — give a folder such as "
                               "../shared/datasets/scenes-ilc")
        for xml in sorted((source / "annotations").glob("*.xml")):
            if split_of(xml.stem) != split:
                continue
            image = next((source / "images" / f"{xml.stem}{suffix}" for suffix in (".jpg", ".jpeg", ".png")
                          if (source / "images" / f"{xml.stem}{suffix}").is_file()), None)
            if image is None:
                continue
            faces = [(label, box) for label, box in voc_faces(xml) if label != "not_face"]
            key = f"{source.name}/{xml.stem}"
            found.append(Photo(image, source.name, _corners([box for _, box in faces]), [label for label, _ in faces],
                               _corners(negatives.get(xml.stem, []) + zoom_negatives.get(key, [])),
                               _corners(unboxed.get(xml.stem, []) + zoom_unboxed.get(key, []))))
    return found


def mine_ignored(items: list[Photo], stock_onnx: Path, cache: Path, progress=print) -> None:
    """Fill each photo's ``ignore``: stock-YuNet faces (score >= 0.5) that match no box and no review.

    Most of them are faces nobody boxed (three in four of the candidates reviewed by eye were), so teaching
    them as background would teach the detector to miss real faces. Kept in ``cache`` (JSON).
    """
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    detector = None
    for n, photo in enumerate(items):
        key = f"{photo.source}/{photo.name}"
        if key not in known:
            image = read_image(photo.path).bgr
            if detector is None:
                detector = cv2.FaceDetectorYN.create(str(stock_onnx), "", (320, 320), 0.5, 0.3, 5000)
            detector.setInputSize((image.shape[1], image.shape[0]))
            _, faces = detector.detect(image)
            found = _corners(faces[:, :4]) if faces is not None else np.zeros((0, 4), np.float32)
            accounted = np.vstack([photo.boxes, photo.negatives, photo.faces_unboxed])
            if len(found) and len(accounted):
                found = found[corner_iou(found, accounted).max(axis=1) < 0.3]
            known[key] = found.round(1).tolist()
            if (n + 1) % 200 == 0:
                progress(f"  looked for unboxed faces on {n + 1}/{len(items)} photos")
        photo.ignore = np.asarray(known[key], np.float32).reshape(-1, 4)
    cache.write_text(json.dumps(known))


@dataclass
class Sample:
    """A training crop and its boxes (corners in its pixels)."""

    image: np.ndarray
    faces: np.ndarray
    ignore: np.ndarray
    negatives: np.ndarray


def _place(boxes: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
    return boxes * scale + np.tile(shift, 2)


def augment(photo: Photo, image: np.ndarray, rng: np.random.Generator, size: int,
            face_px: tuple[float, float] = (10, 180)) -> Sample:
    """A ``size`` x ``size`` crop as a doorway camera might see it.

    A face of the photo (nine times in ten; three in ten a hard negative instead, where the photo has one) is
    scaled to a width drawn log-uniformly from ``face_px`` and placed anywhere, now and then cut by the crop's
    edge; then mirror, light (dim, bright, low contrast), grey (infrared), blur, sensor noise and JPEG.
    """
    height, width = image.shape[:2]
    draw = rng.random()
    if len(photo.boxes) and draw < 0.9 or len(photo.negatives) and draw < NEGATIVE_CROPS:
        anchors = photo.negatives if len(photo.negatives) and draw < NEGATIVE_CROPS else photo.boxes
        anchor = anchors[rng.integers(len(anchors))]
        scale = np.exp(rng.uniform(*np.log(face_px))) / max(anchor[2] - anchor[0], 1.0)
        centre = (anchor[:2] + anchor[2:]) / 2
    else:
        scale = rng.uniform(*sorted((size / max(height, width), 1.0)))  # the whole photo, or a part of it
        centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
    scale = float(np.clip(scale, 0.05, 6.0))
    target = rng.uniform(0.1, 0.9, size=2) * size
    if rng.random() < 0.1:  # a face the frame's edge cuts
        target[rng.integers(2)] = rng.choice([0.0, float(size)])
    shift = target - centre * scale
    fill = rng.integers(0, 255)
    if scale < 1:  # area-average when shrinking, as a camera's optics do; then place
        small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        matrix = np.float32([[1, 0, shift[0]], [0, 1, shift[1]]])
        crop = cv2.warpAffine(small, matrix, (size, size), borderMode=cv2.BORDER_CONSTANT, borderValue=(int(fill),) * 3)
    else:
        matrix = np.float32([[scale, 0, shift[0]], [0, scale, shift[1]]])
        crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(int(fill),) * 3)
    faces, negatives, ignore = (_place(b, scale, shift) for b in (photo.boxes, photo.negatives,
                                                                   np.vstack([photo.ignore, photo.faces_unboxed])))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        faces, negatives, ignore = (np.column_stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]])
                                    for b in (faces, negatives, ignore))
    crop = _photometric(np.ascontiguousarray(crop), rng)
    clipped = np.clip(faces, 0, size)
    area = np.prod(np.maximum(faces[:, 2:] - faces[:, :2], 1e-3), axis=1)
    visible = np.prod(np.maximum(clipped[:, 2:] - clipped[:, :2], 0), axis=1) / area
    sides = np.minimum(clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1])
    taught = (visible >= KEEP_VISIBLE) & (sides >= MIN_BOX)
    seen = visible > 0
    return Sample(crop, clipped[taught].astype(np.float32),
                  np.vstack([clipped[seen & ~taught], np.clip(ignore, 0, size)]).astype(np.float32),
                  np.clip(negatives, 0, size).astype(np.float32))


def _photometric(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    image = crop.astype(np.float32)
    if rng.random() < 0.8:  # exposure and contrast; dim light is most of a doorway's trouble
        image = (image - 128) * rng.uniform(0.6, 1.3) + 128 + rng.uniform(-40, 30)
        image = 255 * (np.clip(image, 0, 255) / 255) ** rng.uniform(0.7, 1.6)
    if rng.random() < 0.15:  # a camera in infrared night mode
        image = np.repeat(cv2.cvtColor(np.clip(image, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY)[..., None], 3,
                          axis=2).astype(np.float32)
    if rng.random() < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.8))
    if rng.random() < 0.3:
        image = image + rng.normal(0, rng.uniform(2, 10), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image


def false_at_zooms(photo: Photo, image: np.ndarray, ours, stock=None, every: int = 3) -> np.ndarray:
    """Corner boxes (in the photo) of what the detector ``ours`` (a ``cv2.FaceDetectorYN`` at its floor) finds
    as a camera closes in on the photo's faces (the walk-through's path, every ``every``-th frame) that no box,
    no review, no ignored face and no face of ``stock`` (at its floor, same frame; None: none) overlaps: lace,
    microphones, hands, a fill's edge."""
    from train.walkthrough import frame_at, to_photo, windows

    boxes = photo.boxes if len(photo.boxes) else np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
    accounted = np.vstack([photo.boxes, photo.negatives, photo.faces_unboxed, photo.ignore])
    found = np.zeros((0, 4), np.float32)
    for window in windows(image.shape, np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]))[::every]:
        frame = frame_at(image, window)
        _, mine = ours.detect(frame)
        if mine is None:
            continue
        mine = mine[:, :4]
        theirs = None if stock is None else stock.detect(frame)[1]
        if theirs is not None:
            mine = mine[overlap(_corners(mine), _corners(theirs[:, :4])).max(axis=1) < 0.3]
        mine = _corners([to_photo(box, window) for box in mine])
        if len(mine) and len(accounted):
            mine = mine[overlap(mine, accounted).max(axis=1) < 0.3]
        if len(mine) and len(found):
            mine = mine[corner_iou(mine, found).max(axis=1) < 0.5]
        found = np.vstack([found, mine])
    return found


def zoom_detector(onnx: Path, floor: float):
    """A YuNet ONNX as ``false_at_zooms`` runs it: ``cv2.FaceDetectorYN`` on the walk-through's frames, at
    ``floor``."""
    from train.walkthrough import FRAME

    return cv2.FaceDetectorYN.create(str(onnx), "", FRAME, floor, 0.3, 5000)


def mine_false(items: list[Photo], onnx: Path, stock_onnx: Path, cache: Path, floor: float = 0.35,
               every: int = 3, progress=print) -> None:
    """Add to each photo's ``negatives`` what the detector ``onnx`` finds (score >= ``floor``) at walk-through
    zooms that stock YuNet does not even doubt (``false_at_zooms``). The first fine-tune found these far more
    often than stock YuNet, at walk-through zooms its training crops rarely showed. Kept in ``cache`` (JSON)."""
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    ours = stock = None
    for n, photo in enumerate(items):
        key = f"{photo.source}/{photo.name}"
        if key not in known:
            if ours is None:
                ours, stock = zoom_detector(onnx, floor), zoom_detector(stock_onnx, STOCK_DOUBT)
            known[key] = false_at_zooms(photo, read_image(photo.path).bgr, ours, stock, every).round(1).tolist()
            if (n + 1) % 200 == 0:
                progress(f"  looked for false faces on {n + 1}/{len(items)} photos")
        mined = np.asarray(known[key], np.float32).reshape(-1, 4)
        photo.negatives = np.vstack([photo.negatives, mined])
    cache.write_text(json.dumps(known))


def add_mined(items: list[Photo], path: Path) -> int:
    """Add to each photo's ``negatives`` the false faces ``mine_false`` found on it with earlier detectors, kept
    in ``path`` (``train/mined/negatives.json``: which detectors, and the boxes by photo); how many were added."""
    mined = json.loads(Path(path).read_text())["photos"]
    added = 0
    for photo in items:
        boxes = np.asarray(mined.get(f"{photo.source}/{photo.name}", []), np.float32).reshape(-1, 4)
        photo.negatives = np.vstack([photo.negatives, boxes])
        added += len(boxes)
    return added
