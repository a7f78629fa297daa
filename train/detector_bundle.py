"""Export a trained detector as a bundle (``edge.detectors.bundle``), its settings chosen by written rules.

On the validation split (never the test split), with stock YuNet at 640 px as the reference:

- ``max_side``: the smallest of 640, 480, 320 at which the trained detector finds masked and unmasked faces at
  least as often as stock YuNet at 640 does, both at stock's false faces at its face-check score (a smaller side
  is a cheaper frame);
- ``min_score``: the score at which it makes as many false faces there as stock YuNet at its detection floor
  (0.6), so tracks start as easily as before;
- the int8 twin's ranges: from every training photo as the detector sees it (its longer side at 640 px);
- ``face_score`` (the face check): the rule stock YuNet's 0.66 was fitted by, the score 99.5% of the real faces
  walking up reach on their best frame (``--face-score``: the walk-through's ``face_score_floor`` on training
  photos, ``python -m train.walkthrough --photos training --tracker face_score=0 --detector maskwatch
  --detector-dir BUNDLE``); without it, the score 99.5% of the validation faces it finds reach, never above
  the score that makes stock's false faces at 0.66.

Usage: python -m train.detector_bundle --onnx runs/detector/epoch-N.onnx --out runs/detector/bundle [--face-score F]
       [--no-int8]
       python -m train.detector_bundle --add-int8 edge/models/detectors/maskwatch
"""

import argparse
import dataclasses
import datetime
import shutil
import sys
from pathlib import Path

import numpy as np

from edge.console import Parser
from edge.crops import downscale_for_detection
from edge.detectors import bundle
from edge.detectors.yunet_litert import DIVISOR
from edge.images import read_image
from edge.manifest import sha256_of
from train import detector_eval
from train.detector_data import SOURCES, STOCK, Photo, photos
from train.yunet_keras import write_int8, write_tflite

SIDES = (640, 480, 320)
STOCK_MIN_SCORE = 0.6
KEEP_FACES = 0.995
LICENSE = """MIT License

Copyright (c) 2020 Shiqi Yu <shiqi.yu@gmail.com> (YuNet, the model these weights were trained from)
Copyright (c) 2026 the Maskwatch authors (the fine-tuned weights)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
TRAINING_DATA = ("Fine-tuned on the training photos of scenes-ilc (web photos, no licence stated: scraped) and "
                 "scenes-ap27 (MIT); see docs/model-card.md.")


def choose(ours: dict, stock: detector_eval.Record, face_score: float | None = None) -> dict:
    """The bundle's settings from validation records: ``ours`` maps each side to a Record."""
    face_budget = stock.figures(detector_eval.STOCK_FACE_SCORE)["false_faces"]
    floor_budget = stock.figures(STOCK_MIN_SCORE)["false_faces"]
    target = stock.figures(detector_eval.STOCK_FACE_SCORE)["recall"]
    side = max(SIDES)
    for candidate in sorted(ours):
        figures = ours[candidate].figures(ours[candidate].at_false(face_budget))
        if all((figures["recall"].get(label) or 0) >= (target.get(label) or 0)
               for label in ("with_mask", "without_mask")):
            side = candidate
            break
    record = ours[side]
    matched = record.at_false(face_budget)
    found = record.found_score[record.found_score > 0]
    if face_score is None:
        face_score = min(float(np.quantile(found, 1 - KEEP_FACES)), matched) if len(found) else matched
    min_score = min(record.at_false(floor_budget), face_score)
    return {"max_side": side, "min_score": round(min_score, 3), "face_score": round(face_score, 3),
            "validation": record.figures(matched), "stock_validation": stock.figures(detector_eval.STOCK_FACE_SCORE)}


def trained_on(onnx_path: Path) -> str:
    """The day the weights were written (a bundle exported again later keeps its training date)."""
    return datetime.date.fromtimestamp(Path(onnx_path).stat().st_mtime).isoformat()


def calibration_frames(items: list[Photo], side: int, progress=print):
    """A function giving each photo as a frame the detector sees: shrunk to ``side``, padded to a multiple of 32
    with black as FaceDetectorYN pads it."""
    def frames():
        for index, photo in enumerate(items, 1):
            if index % 200 == 0 or index == len(items):
                progress(f"  calibrating: {index}/{len(items)} photos")
            frame, _ = downscale_for_detection(read_image(photo.path).bgr, side)
            height, width = frame.shape[:2]
            padded = np.zeros((-(-height // DIVISOR) * DIVISOR, -(-width // DIVISOR) * DIVISOR, 3), np.float32)
            padded[:height, :width] = frame
            yield padded

    return frames


def int8_twin(model: Path, calibration: list[Photo], max_side: int, min_score: float,
              progress=print) -> bundle.Int8Twin:
    """Write the int8 twin beside ``model``, its ranges set on the ``calibration`` photos; its manifest entry."""
    progress(f"writing the int8 twin, calibrated on {len(calibration)} training photos")
    twin = write_int8(model, calibration_frames(calibration, max_side, progress))
    faces = bundle.int8_faces_on(twin, bundle.selftest_image(max_side), min_score)
    return bundle.Int8Twin(file=twin.name, sha256=sha256_of(twin), size_bytes=twin.stat().st_size,
                           selftest=np.round(faces, 3).tolist(),
                           calibration=f"{len(calibration)} training photos, longer side {max_side} px")


def export(onnx_path: Path, out: Path, stock: Path, validation, sources: list[str], face_score: float | None = None,
           calibration: list[Photo] = (), progress=print) -> Path:
    """Write the bundle for ``onnx_path`` into ``out``, its settings chosen on ``validation`` photos, with an int8
    twin calibrated on ``calibration`` photos (none: no int8 twin)."""
    progress(f"choosing the bundle's settings on {len(validation)} validation photos")
    ours = {side: detector_eval.run(detector_eval.YunetOnnx(onnx_path), validation, side) for side in SIDES}
    reference = detector_eval.run(detector_eval.YunetOnnx(stock), validation, max(SIDES))
    settings = choose(ours, reference, face_score)
    out.mkdir(parents=True, exist_ok=True)
    model = out / "detector.onnx"
    shutil.copyfile(onnx_path, model)
    write_tflite(model)  # its LiteRT twin, which edge-run checks against the ONNX on the self-test photo
    (out / "LICENSE").write_text(LICENSE)
    faces = bundle.faces_on(model, bundle.selftest_image(settings["max_side"]), settings["min_score"])
    int8 = int8_twin(model, list(calibration), settings["max_side"], settings["min_score"],
                     progress) if calibration else None
    manifest = bundle.DetectorManifest(
        schema_version=bundle.SCHEMA_VERSION, kind="yunet", file=model.name, sha256=sha256_of(model),
        size_bytes=model.stat().st_size, max_side=settings["max_side"], min_score=settings["min_score"],
        face_score=settings["face_score"], selftest=np.round(faces, 3).tolist(),
        rules={"max_side": "the smallest of 640/480/320 whose validation recall (masked, unmasked) at stock YuNet's "
                           "false faces at 0.66 is at least stock's at 640",
               "min_score": "validation false faces equal stock YuNet's at 0.6",
               "face_score": ("reached by 99.5% of the real faces walking up on their best frame (walk-through, "
                              "training photos)" if face_score is not None else
                              "reached by 99.5% of the validation faces found, at most stock's false faces at 0.66")},
        metrics={"validation": settings["validation"], "stock_validation_at_640": settings["stock_validation"]},
        provenance={"base": f"{stock.name} (OpenCV model zoo, MIT), sha256 {sha256_of(stock)}",
                    "sources": sources, "trained": trained_on(onnx_path), "data": TRAINING_DATA,
                    "licence": "MIT (LICENSE)"}, int8=int8)
    bundle.write(manifest, out)
    bundle.selftest(*bundle.load(out))
    if int8 is not None:
        bundle.selftest(manifest, bundle.int8_of(manifest, out), int8=True)
    progress(f"bundle: max_side {manifest.max_side}, min_score {manifest.min_score}, face_score {manifest.face_score}")
    return out


def add_int8(folder: Path, calibration: list[Photo], progress=print) -> Path:
    """Give the bundle in ``folder`` an int8 twin (or a new one), its ONNX and settings unchanged."""
    manifest, model = bundle.load(folder)
    int8 = int8_twin(model, calibration, manifest.max_side, manifest.min_score, progress)
    manifest = dataclasses.replace(manifest, int8=int8)
    bundle.write(manifest, folder)
    bundle.selftest(manifest, bundle.int8_of(manifest, folder), int8=True)
    return folder / int8.file


def main(argv=None) -> int:
    p = Parser(prog="python -m train.detector_bundle", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", type=Path, help="the trained detector (YuNet's graph)")
    p.add_argument("--out", type=Path, help="bundle folder to write")
    p.add_argument("--add-int8", type=Path, metavar="BUNDLE",
                   help="instead: give this bundle an int8 twin, its ONNX and settings unchanged")
    p.add_argument("--data", type=Path, nargs="+", default=SOURCES)
    p.add_argument("--stock", type=Path, default=STOCK)
    p.add_argument("--face-score", type=float, default=None,
                   help="the face check: the walk-through's face_score_floor on training photos (see above)")
    p.add_argument("--no-int8", action="store_true", help="write no int8 twin (it takes minutes to calibrate)")
    args = p.parse_args(argv)
    if args.add_int8 is not None:
        print(f"wrote {add_int8(args.add_int8, photos(args.data, 'train'))}")
        return 0
    if args.onnx is None or args.out is None:
        p.error("give --onnx and --out (or --add-int8 BUNDLE)")
    export(args.onnx, args.out, args.stock, photos(args.data, "val"), [d.name for d in args.data], args.face_score,
           calibration=[] if args.no_int8 else photos(args.data, "train"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
