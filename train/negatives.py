"""Hard negatives for the classifier's ``not_face`` label: the detector's false faces on scenes-ilc.

``mine`` runs the device's detector (YuNet, edge-run's settings) over each scenes-ilc photo with one to
three boxed faces (``--faces``), as train/walkthrough.py's camera sees it closing in (every other frame of
the clip), and keeps the detections that a face check could let through (score >= ``--min-score``) and that are no boxed
face. The same object found in several frames is one candidate (its best-scoring box, in the photo's
pixels). It writes ``candidates.json`` and contact sheets (``sheet-NN.png``, each crop numbered) to look at:
crowds hold real faces the annotators did not box, and those must not be taught as "not a face".

``write`` makes the training set: a Pascal VOC scene set whose annotations are scenes-ilc's with one
``not_face`` object per false face of the review (``--review``, train/reviewed/negatives-review.json: the
candidates looked at and found to be no face). Its images link to scenes-ilc's, and it keeps the folder
name ``scenes-ilc``, so splits (held-out photos included) and reports are those of scenes-ilc itself.

``zooms`` does the same for this project's detector (``--onnx``, at its face score) on the detector's training
photos (``train.detector_data``), at the walk-through's zooms, keeping what nothing accounts for yet: no box, no
review, no mined false face, no stock-YuNet face; ``zooms-review`` files the verdicts of its contact sheets
(``{"not_faces": [numbers], "faces": [numbers]}``, the rest doubtful) into train/reviewed/zoom-review.json.

Usage::

    python -m train.negatives mine --data ../shared/datasets/scenes-ilc --detector-dir ../shared/models/face \\
        --out runs/negatives
    python -m train.negatives mine … --faces 4 8 --out runs/negatives-4to8   # crowds: mostly real faces
    python -m train.negatives write --data ../shared/datasets/scenes-ilc --out runs/negatives/scenes-ilc
    python -m train.negatives zooms --onnx runs/detector-7/bundle/detector.onnx --floor 0.37 --out runs/zooms
    python -m train.negatives zooms-review --candidates runs/zooms/candidates.json --verdicts verdicts.json
"""

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np

from edge import config as configs
from edge.console import Parser, number, run_main, whole_number
from edge.crops import iou_matrix
from edge.errors import ConfigError
from edge.images import read_image
from edge.policy import NOT_FACE
from edge.runtime import load_models
from train.dataset import is_scene_set, voc_faces
from train.detector_data import (
    MINED,
    SOURCES,
    STOCK,
    ZOOMS,
    add_mined,
    false_at_zooms,
    mine_ignored,
    photos,
    zoom_detector,
)
from train.split import held_out

from .walkthrough import frame_at, matches, to_photo, windows

REVIEW = Path(__file__).with_name("reviewed") / "negatives-review.json"
TILE, COLUMNS, ROWS = 112, 10, 8


def scene_photos(data: Path, fewest: int = 1, most: int = 3):
    for xml in sorted((data / "annotations").glob("*.xml")):
        faces = voc_faces(xml)
        if fewest <= len(faces) <= most:
            yield xml.stem, np.array([box for _, box in faces], np.float64)


def mine_photo(detector, photo: np.ndarray, truth: np.ndarray, min_score: float, every: int) -> list[dict]:
    """The photo's false faces: detections along the walk-up path that are no boxed face, one per object."""
    found = []
    for window in windows(photo.shape, truth)[::every]:
        for row in detector.detect(frame_at(photo, window)):
            if row[4] < min_score:
                continue
            box = to_photo(row[:4], window)
            # Part of a boxed face (a half face, a mouth) is no lesson in what is not a face.
            cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
            inside = ((cx >= truth[:, 0]) & (cx <= truth[:, 0] + truth[:, 2])
                      & (cy >= truth[:, 1]) & (cy <= truth[:, 1] + truth[:, 3])).any()
            if not inside and matches([box], truth)[0] is None:
                found.append((float(row[4]), box))
    objects: list[dict] = []
    for score, box in sorted(found, key=lambda f: -f[0]):
        same = [o for o in objects if iou_matrix(np.array([o["box"]]), box[None])[0, 0] > 0.3]
        if same:
            same[0]["frames"] += 1
        else:
            objects.append({"box": [round(float(v), 1) for v in box], "score": round(score, 3), "frames": 1})
    return objects


def sheets(image_of, candidates: list[dict], out: Path, margin: float = 0.5) -> list[Path]:
    """Numbered crops of the candidates (``image_of(candidate)``: its photo's path; ``margin`` of the box's size
    around it), COLUMNS x ROWS to a sheet."""
    paths, tiles = [], []
    name, photo = None, None
    for index, c in enumerate(candidates):
        if image_of(c) != name:  # candidates come photo by photo: one photo in memory, not all of them
            name = image_of(c)
            photo = read_image(name).bgr
        x, y, w, h = c["box"]
        x0, y0 = int(max(0, x - margin * w)), int(max(0, y - margin * h))
        crop = photo[y0:max(y0, int(y + (1 + margin) * h)), x0:max(x0, int(x + (1 + margin) * w))].copy()
        # the box itself, thin: in a crowd the crop alone does not say which of its faces was found
        cv2.rectangle(crop, (int(x - x0), int(y - y0)), (int(x + w - x0), int(y + h - y0)), (0, 255, 0),
                      max(1, max(crop.shape[:2]) // TILE))
        # a detection on the grey beyond the photo's edge, where the camera window overhangs it, has no pixels
        tile = (cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA) if crop.size
                else np.full((TILE, TILE, 3), 80, np.uint8))
        cv2.putText(tile, str(index), (2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, str(index), (2, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    per_sheet = COLUMNS * ROWS
    for start in range(0, len(tiles), per_sheet):
        chunk = tiles[start:start + per_sheet]
        chunk += [np.zeros_like(tiles[0])] * (-len(chunk) % COLUMNS)
        grid = np.vstack([np.hstack(chunk[r:r + COLUMNS]) for r in range(0, len(chunk), COLUMNS)])
        path = out / f"sheet-{start // per_sheet:02d}.png"
        if not cv2.imwrite(str(path), grid):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths


def scene_set(data: Path) -> Path:
    if not is_scene_set(data):
        raise ConfigError(f"--data {data} has no images/ and annotations/ folders — give ../shared/datasets/scenes-ilc")
    return data


def mine(args) -> int:
    scene_set(args.data)
    cv2.setNumThreads(1)
    config = configs.from_dict({"detector": {"name": "yunet", "model_dir": str(args.detector_dir), "threads": 1}})
    detector = load_models(config).detector
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = list(scene_photos(args.data, *args.faces))
    candidates = []
    for done, (name, truth) in enumerate(chosen, 1):
        photo = read_image(args.data / "images" / f"{name}.jpg").bgr
        for obj in mine_photo(detector, photo, truth, args.min_score, args.every):
            candidates.append({"photo": name, "held_out": held_out(name), **obj})
        if done % 100 == 0:
            print(f"  {done}/{len(chosen)} photos, {len(candidates)} candidates", file=sys.stderr, flush=True)
    (args.out / "candidates.json").write_text(json.dumps(candidates, indent=1) + "\n")
    written = sheets(lambda c: args.data / "images" / f"{c['photo']}.jpg", candidates, args.out)
    print(f"{len(candidates)} candidates from {len(chosen)} photos: {args.out / 'candidates.json'}, "
          f"{len(written)} contact sheets {args.out}/sheet-*.png")
    return 0


def write(args) -> int:
    scene_set(args.data)
    try:
        reviewed = json.loads(args.review.read_text())["not_faces"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{args.review} is no review of false faces ({exc!r}) — give "
                          "train/reviewed/negatives-review.json") from None
    (args.out / "annotations").mkdir(parents=True, exist_ok=True)
    images = args.out / "images"
    if not images.exists():
        os.symlink((args.data / "images").resolve(), images)
    for xml in sorted((args.data / "annotations").glob("*.xml")):
        tree = ET.parse(xml)
        for x, y, w, h in reviewed.get(xml.stem, []):
            obj = ET.SubElement(tree.getroot(), "object")
            ET.SubElement(obj, "name").text = NOT_FACE
            box = ET.SubElement(obj, "bndbox")
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), (x, y, x + w, y + h), strict=True):
                ET.SubElement(box, key).text = str(value)
        tree.write(args.out / "annotations" / xml.name)
    held = sum(len(boxes) for photo, boxes in reviewed.items() if held_out(photo))
    print(f"{args.out}: scenes-ilc with {sum(map(len, reviewed.values()))} {NOT_FACE} boxes on {len(reviewed)} photos "
          f"({held} on held-out photos, the test split)")
    return 0


def zooms(args) -> int:
    cv2.setNumThreads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    items = photos(args.data, "train")
    add_mined(items, MINED)
    mine_ignored(items, args.stock, args.out / "unboxed-faces.json", progress=lambda line: print(line, file=sys.stderr))
    detector = zoom_detector(args.onnx, args.floor)
    candidates = []
    for done, photo in enumerate(items, 1):
        for x0, y0, x1, y1 in false_at_zooms(photo, read_image(photo.path).bgr, detector):
            candidates.append({"source": photo.source, "photo": photo.name, "image": str(photo.path),
                               "box": [round(float(v), 1) for v in (x0, y0, x1 - x0, y1 - y0)]})
        if done % 200 == 0:
            print(f"  {done}/{len(items)} photos, {len(candidates)} candidates", file=sys.stderr, flush=True)
    (args.out / "candidates.json").write_text(json.dumps(candidates, indent=1) + "\n")
    written = sheets(lambda c: Path(c["image"]), candidates, args.out, margin=0.75)
    print(f"{len(candidates)} candidates from {len(items)} training photos: {args.out / 'candidates.json'}, "
          f"{len(written)} contact sheets {args.out}/sheet-*.png")
    return 0


def zooms_review(args) -> int:
    try:
        candidates = json.loads(args.candidates.read_text())
        verdicts = json.loads(args.verdicts.read_text())
        numbers = {kind: set(verdicts[kind]) for kind in ("not_faces", "faces")}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the verdicts ({exc}) — give --candidates from `zooms` and --verdicts "
                          '{"not_faces": [numbers], "faces": [numbers]}') from None
    wrong = sorted(n for n in numbers["not_faces"] | numbers["faces"] if not 0 <= n < len(candidates))
    if numbers["not_faces"] & numbers["faces"] or wrong:
        raise ConfigError(f"--verdicts: numbers {wrong or sorted(numbers['not_faces'] & numbers['faces'])} are not "
                          f"candidates or are both face and not — each of 0..{len(candidates) - 1} at most once")
    review = json.loads(args.review.read_text()) if args.review.is_file() else {"about": ""}
    for kind in ("not_faces", "faces", "unsure"):
        review.setdefault(kind, {})
    for n, c in enumerate(candidates):
        kind = next((k for k, chosen in numbers.items() if n in chosen), "unsure")
        boxes = review[kind].setdefault(f"{c['source']}/{c['photo']}", [])
        if c["box"] not in boxes:
            boxes.append(c["box"])
    args.review.write_text(json.dumps(review, indent=1) + "\n")
    print(f"{args.review}: {len(numbers['not_faces'])} false faces, {len(numbers['faces'])} faces, "
          f"{len(candidates) - len(numbers['not_faces']) - len(numbers['faces'])} doubtful added")
    return 0


def main(argv=None) -> int:
    p = Parser(prog="python -m train.negatives", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True)
    m = commands.add_parser("mine", help="the detector's false faces on scenes-ilc, with contact sheets")
    m.add_argument("--data", type=Path, required=True, help="scenes-ilc: images/ and annotations/")
    m.add_argument("--detector-dir", type=Path, required=True)
    m.add_argument("--min-score", type=number(0, maximum=1), default=0.6,
                   help="detector score to keep (YuNet's own floor; the face check's is 0.66)")
    m.add_argument("--every", type=whole_number(1), default=2, help="every n-th frame of each walk-up clip")
    m.add_argument("--faces", type=whole_number(1), nargs=2, default=(1, 3), metavar=("FEWEST", "MOST"),
                   help="photos with this many boxed faces (walk-through's clips: 1 to 3)")
    m.add_argument("--out", type=Path, required=True)
    w = commands.add_parser("write", help="scenes-ilc with the reviewed false faces as not_face boxes")
    w.add_argument("--data", type=Path, required=True)
    w.add_argument("--review", type=Path, default=REVIEW, help="'not_faces' per photo: x, y, w, h")
    w.add_argument("--out", type=Path, required=True)
    z = commands.add_parser("zooms", help="a detector's unaccounted finds on its training photos at walk-through "
                                         "zooms, with contact sheets")
    z.add_argument("--data", type=Path, nargs="+", default=SOURCES, help="scene sets with face boxes")
    z.add_argument("--onnx", type=Path, required=True, help="the detector (a YuNet ONNX)")
    z.add_argument("--floor", type=number(0, maximum=1), default=0.37, help="its face score")
    z.add_argument("--stock", type=Path, default=STOCK, help="stock YuNet: its faces nobody boxed are not candidates")
    z.add_argument("--out", type=Path, required=True)
    r = commands.add_parser("zooms-review", help="file the verdicts on zooms' candidates")
    r.add_argument("--candidates", type=Path, required=True)
    r.add_argument("--verdicts", type=Path, required=True)
    r.add_argument("--review", type=Path, default=ZOOMS)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(argv)
    command = {"mine": mine, "write": write, "zooms": zooms, "zooms-review": zooms_review}[args.command]
    return run_main("python -m train.negatives", command, args)


if __name__ == "__main__":
    sys.exit(main())
