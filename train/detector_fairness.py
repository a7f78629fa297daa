"""Share of pictures where each face detector finds a face, masked against unmasked.

Usage: python -m train.detector_fairness --data ../shared/datasets/masks --detector-dir DIR [--every 8]

A detector that misses masked faces more often than unmasked ones biases every compliance
count; this measures it per detector (``make fairness``), with the mean ms per picture (one thread).
"""

import argparse
import sys
import time
from pathlib import Path

import cv2

from edge.console import Parser, whole_number
from edge.detectors import create_detector
from edge.detectors.haar import HaarConfig, HaarDetector
from edge.images import is_image_file


def main(argv=None) -> int:
    p = Parser(prog="python -m train.detector_fairness", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with with_mask/ and without_mask/")
    p.add_argument("--detector-dir", type=Path, required=True, help="SSD and YuNet files")
    p.add_argument("--every", type=whole_number(1), default=8, help="use every n-th picture")
    args = p.parse_args(argv)

    cv2.setNumThreads(1)  # ms per picture on one thread, as edge-bench times them
    detectors = {
        "haar, OpenCV's frontal face cascade": HaarDetector(HaarConfig(setup="frontal")),
        "haar (eye pairs: the fallback)": create_detector("haar"),
        "ssd": create_detector("ssd", args.detector_dir),
        "yunet": create_detector("yunet", args.detector_dir),
    }
    classes = ("with_mask", "without_mask")
    pictures = {c: [cv2.imread(str(f)) for f in sorted((args.data / c).iterdir()) if is_image_file(f)][::args.every]
                for c in classes}
    pictures = {c: [p for p in images if p is not None] for c, images in pictures.items()}
    print(f"| detector | {' | '.join(classes)} | ratio | ms per picture |")
    print("|---|---|---|---|---|")
    for name, detector in detectors.items():
        shares, seconds = [], 0.0
        for c in classes:
            started = time.perf_counter()
            found = sum(len(detector.detect(picture)) > 0 for picture in pictures[c])
            seconds += time.perf_counter() - started
            shares.append(found / len(pictures[c]))
        ms = 1000 * seconds / sum(len(v) for v in pictures.values())
        print(f"| {name} | {shares[0]:.2f} | {shares[1]:.2f} | {shares[0] / shares[1]:.2f} | {ms:.1f} |", flush=True)
    print(f"({', '.join(f'{len(v)} {c}' for c, v in pictures.items())} pictures: every {args.every}th)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
