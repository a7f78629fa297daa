"""Turning a folder of mixed photos into the face crops the device will show the classifier.

The detector and the crop rule are the device's own (``edge.detectors``, ``edge.crops``).
Tight face crops (the face fills the picture) are kept whole; scene pictures are cut to
their largest face (the image's label describes its main subject, not bystanders); a
picture with no face found is kept whole or dropped by choice, and always reported. A face
with a box (a scene set's) is cut with its box: its label belongs to that box.

The device cuts a face where its detector puts the box, not where an annotator did, and the two
differ: YuNet's box starts higher and ends at the chin, where annotators stop at a mask's lower
edge. With ``detector_views`` a boxed face the detector also finds is cut a second time with the
detector's box, as the device would cut it (status ``detected``; ``train.training`` trains on it with or
instead of the annotated cut and scores only the annotated ones; measured in
docs/notes/2026-12-05-classifier-record.md).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from edge.crops import CropRule, crop_face, expand_box, match_boxes, whole_image
from edge.detectors import create_detector
from edge.errors import ImageError
from edge.images import is_image_file, read_image

from .dataset import Sample
from .split import image_hashes

CACHE_VERSION = 3


@dataclass(frozen=True)
class PrepConfig:
    size: int = 128
    detector: str = "yunet"
    detector_dir: str = "."
    crop_margin: float = 0.2
    no_face: str = "keep"  # keep the whole image, or "drop" it
    min_side: int = 24  # smaller images are skipped as unusable
    tight_fraction: float = 0.6  # a face whose crop spans this much of the image is a tight crop
    detector_views: bool = False  # also cut each boxed face with the detector's box for it, where found


@dataclass
class Prepared:
    crops: np.ndarray  # uint8 RGB, N x size x size x 3, only the usable samples
    records: list[dict]  # one per sample: relpath, label, status, note, hashes, face_px, index


def prepare_one(bgr: np.ndarray, detector, config: PrepConfig) -> tuple[str, np.ndarray | None, int]:
    """("face" | "tight" | "no_face", crop or None when the image should be dropped, the face's shorter
    side in px)."""
    rule = CropRule(margin=config.crop_margin, square=True)
    faces = detector.detect(bgr)
    if len(faces) == 0:
        if config.no_face == "drop":
            return "no_face", None, min(bgr.shape[:2])
        return "no_face", whole_image(bgr, config.size), min(bgr.shape[:2])
    largest = faces[np.argmax(faces[:, 2] * faces[:, 3])]
    crop_side = expand_box(largest[:4], rule)[2]
    if crop_side >= config.tight_fraction * min(bgr.shape[:2]):
        return "tight", whole_image(bgr, config.size), min(bgr.shape[:2])
    return "face", crop_face(bgr, largest[:4], rule, config.size), int(min(largest[2:4]))


def _cache_key(samples: list[Sample], config: PrepConfig) -> str:
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, asdict(config)]).encode())
    for sample in samples:
        stat = sample.path.stat() if sample.path.exists() else None
        seen = (stat.st_size, stat.st_mtime_ns) if stat else "missing"
        digest.update(f"{sample.relpath}\0{sample.label}\0{sample.box}\0{seen}\n".encode())
    return digest.hexdigest()[:20]


def prepare(samples: list[Sample], config: PrepConfig, cache_dir: Path | None = None,
            progress: bool = True) -> Prepared:
    """Face crops for every usable sample; cached under ``cache_dir`` by content and settings."""
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"faces-{_cache_key(samples, config)}.npz"
        if cache_file.is_file():
            with np.load(cache_file, allow_pickle=False) as cached:
                return Prepared(cached["crops"], json.loads(str(cached["records"])))
    needs_detector = config.detector_views or not all(s.box for s in samples)
    detector = create_detector(config.detector, config.detector_dir) if needs_detector else None
    rule = CropRule(margin=config.crop_margin, square=True)
    boxes_of: dict[Path, list] = {}  # each photo's annotated boxes, to pair with its detections
    for sample in samples:
        if config.detector_views and sample.box is not None:
            boxes_of.setdefault(sample.path, []).append(sample.box)
    crops, records = [], []
    # the last picture read (a scene's faces follow each other): path, image or error, hashes, detector boxes
    read: tuple[Path, object, list, dict] | None = None
    for sample in tqdm(samples, desc="face crops", unit="face", disable=not progress):
        record = {"relpath": sample.relpath, "label": sample.label, "note": "", "source": sample.source}
        if sample.box is not None:
            record["box"] = list(sample.box)
        records.append(record)
        if not is_image_file(sample.path):
            record.update(status="skipped", note="not an image file" if sample.path.exists() else "file missing")
            continue
        if read is None or read[0] != sample.path:
            try:
                image = read_image(sample.path, min_side=config.min_side)
                found = _detector_boxes(detector, image.bgr, boxes_of[sample.path]) if sample.path in boxes_of else {}
                read = (sample.path, image, [int(h) for h in image_hashes(image.bgr)], found)
            except ImageError as exc:
                read = (sample.path, exc, [], {})
        _, image, hashes, found = read
        if isinstance(image, ImageError):
            record.update(status="skipped", note=str(image))
            continue
        record["note"] = f"converted from {image.conversion}" if image.conversion else ""
        if sample.box is not None:
            status, face_px = "box", int(min(sample.box[2:]))
            try:
                crop = crop_face(image.bgr, sample.box, rule, config.size)
            except ValueError as exc:
                record.update(status="skipped", note=str(exc))
                continue
        else:
            status, crop, face_px = prepare_one(image.bgr, detector, config)
        record["status"] = status if crop is not None else "dropped"
        record["hashes"], record["face_px"] = hashes, face_px
        if crop is not None:
            record["crop_hashes"] = [int(h) for h in image_hashes(crop)]
            record["index"] = len(crops)
            crops.append(crop)
        if crop is not None and sample.box in found:
            detected = found[sample.box]
            view = crop_face(image.bgr, detected, rule, config.size)
            records.append({**record, "relpath": f"{sample.relpath}@detector", "status": "detected",
                            "box": [round(float(v), 1) for v in detected], "face_px": int(min(detected[2:])),
                            "crop_hashes": [int(h) for h in image_hashes(view)], "index": len(crops)})
            crops.append(view)
    stacked = np.stack(crops) if crops else np.zeros((0, config.size, config.size, 3), np.uint8)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".tmp.npz")
        np.savez(partial, crops=stacked, records=json.dumps(records))
        partial.replace(cache_file)
    return Prepared(stacked, records)


def _detector_boxes(detector, bgr: np.ndarray, boxes: list) -> dict[tuple, np.ndarray]:
    """The detector's box for each annotated box it finds (IoU at least 0.3, best pairs first)."""
    detections = detector.detect(bgr)[:, :4]
    return {tuple(boxes[t]): detections[f] for t, f in match_boxes(np.array(boxes), detections, 0.3)}


def save_examples(prepared: Prepared, path: Path, per_status: int = 8) -> None:
    """A contact sheet of crops by how they were made, to eyeball the preparation."""
    rows = []
    for status in ("face", "tight", "no_face", "box", "detected"):
        picks = [r["index"] for r in prepared.records if r.get("status") == status][:per_status]
        if picks:
            row = [prepared.crops[i] for i in picks]
            row += [np.zeros_like(row[0])] * (per_status - len(row))
            rows.append(np.hstack(row))
    if rows:
        cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
