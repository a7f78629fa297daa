"""``python -m train``: fine-tune the mask classifier on one or more datasets: folder-per-class sets and
scene sets with face boxes (images/ + annotations/ in Pascal VOC)."""

import argparse
import os
import sys
from pathlib import Path

from edge import detectors
from edge.console import Parser, comma_list, number, whole_number


def fractions(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in comma_list(text)]
    if len(parts) != 3 or min(parts) <= 0:
        raise argparse.ArgumentTypeError("give three positive numbers: train,val,test")
    return tuple(parts)


def input_size(text: str) -> int:
    size = int(text)
    if not 96 <= size <= 224:
        raise argparse.ArgumentTypeError("input size must be within 96..224")
    return size


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="python -m train", description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="example: python -m train --data ../shared/datasets/masks ../shared/datasets/scenes-ilc "
               "--labels with_mask,without_mask,mask_incorrect --calibrate ../shared/datasets/masks-oos "
               "--out runs/m128 "
               "--weights ../shared/models/backbone/mobilenet_v2_1.0_no_top.weights.h5 "
               "--detector-dir ../shared/models/face",
    )
    p.add_argument("--data", required=True, nargs="+", type=Path,
                   help="one or more datasets: a folder with one sub-folder of images per class, or a scene set "
                        "(images/ and annotations/ in Pascal VOC, one face per box)")
    p.add_argument("--calibrate", type=Path, default=None,
                   help="a folder-per-class set of face crops from another source (never trained on): the "
                        "violation threshold is chosen on it instead of the validation split, and it is reported")
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument("--force", action="store_true", help="replace an existing run folder")
    p.add_argument("--labels", type=comma_list, default=None,
                   help="class order, comma-separated (default: folder names, sorted)")
    p.add_argument("--violation", default="without_mask", help="class that raises an alert")
    p.add_argument("--size", type=input_size, default=128, help="input size in px (96..224)")
    p.add_argument("--weights", default="imagenet",
                   help="backbone weights: imagenet (downloads), a .weights.h5 path, or none")
    p.add_argument("--alpha", type=number(0), default=1.0, choices=(0.35, 0.5, 0.75, 1.0),
                   help="backbone width; a narrower net starts from the most used channels of a wider one "
                        "(--start-from's model, else the 1.0 weights file) and is trained whole (--whole-epochs)")
    p.add_argument("--start-from", default=None,
                   help="a finished MobileNetV2 1.0 run (same classes) whose trained model a narrower net is cut "
                        "from, head included")
    p.add_argument("--teacher", nargs="+", default=None,
                   help="one or more finished run folders (same classes, same input size) to distil from: half of "
                        "each target is their mean probabilities")
    p.add_argument("--dropout", type=number(0), default=0.2)
    g = p.add_argument_group("face crops (the device's detector and crop rule)")
    g.add_argument("--detector", default="auto", choices=detectors.choices())
    g.add_argument("--detector-dir", default=os.environ.get("MASKWATCH_MODELS", "."),
                   help="folder with the detector files")
    g.add_argument("--margin", type=number(0), default=0.2, help="crop margin per side, fraction of the box")
    g.add_argument("--min-face", type=whole_number(4), default=12,
                   help="scene sets: boxed faces with a shorter side below this many px are left out")
    g.add_argument("--no-face", choices=("keep", "drop"), default="keep",
                   help="images where no face is found: keep them whole, or drop them")
    g.add_argument("--scene-crops", choices=("boxes", "detector", "both"), default="boxes",
                   help="scene sets: train on each face cut with its annotated box, with the box --detector finds "
                        "for it (as the device cuts it; the annotated box where none is found), or both; every "
                        "figure stays on the annotated boxes")
    g.add_argument("--cache", default=".cache/faces", help="face-crop cache folder ('' for none)")
    g = p.add_argument_group("split")
    g.add_argument("--split", type=fractions, default=(0.7, 0.15, 0.15), help="train,val,test")
    g.add_argument("--dup-distance", type=whole_number(0, 64), default=8,
                   help="perceptual-hash bits within which two images count as the same photo")
    g.add_argument("--seed", type=whole_number(0), default=0)
    g = p.add_argument_group("training")
    g.add_argument("--batch-size", type=whole_number(1), default=32)
    g.add_argument("--head-epochs", type=whole_number(0), default=8)
    g.add_argument("--head-lr", type=number(0, above=True), default=1e-3)
    g.add_argument("--fine-epochs", type=whole_number(0), default=8)
    g.add_argument("--fine-lr", type=number(0, above=True), default=1e-5)
    g.add_argument("--fine-from", default="block_13_expand", help="first backbone layer to unfreeze")
    g.add_argument("--fine-decay", action="store_true",
                   help="decay the fine-tune rate to 0 (cosine) and run every --fine-epochs: steadier than a fixed "
                        "rate when much of the backbone is unfrozen")
    g.add_argument("--whole-epochs", type=whole_number(0), default=None,
                   help="train the whole net this many epochs instead of head + fine-tune "
                        "(default: 20 below alpha 1.0, else 0)")
    g.add_argument("--whole-lr", type=number(0, above=True), default=2e-3,
                   help="starting rate of --whole-epochs (cosine to 0)")
    g.add_argument("--patience", type=whole_number(0), default=3, help="early-stopping patience in epochs")
    g.add_argument("--degrade", type=number(0, maximum=1), default=0.5,
                   help="share of training crops made to look like a small, dim, compressed face at the door "
                        "(downscaled to 16-48 px and back, JPEG, sensor noise, dim light); 0 for none")
    g.add_argument("--greyscale", type=number(0, maximum=1), default=0.0,
                   help="share of training crops turned grey, as a camera in night (infrared) mode sees faces")
    g.add_argument("--min-recall", type=number(0), default=0.99,
                   help="validation recall floor for the violation class when choosing the threshold")
    g.add_argument("--max-false-alarms", type=number(0, maximum=0.5), default=None,
                   help="choose the threshold instead as the lowest one that calls at most this share of the "
                        "compliant faces of the validation split and of --calibrate a violation")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from edge.console import run_main

    from .training import run

    def body(a):
        run(a)

    return run_main("python -m train", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
