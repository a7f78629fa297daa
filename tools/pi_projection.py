"""Project edge-bench figures from this machine to a Raspberry Pi 4 and 5. A projection, not a measurement.

Usage: python tools/pi_projection.py BENCH.json [BENCH2.json ...] --detector-dir DIR      (make bench)

The ratio comes from one workload timed both here and, by a published benchmark, on a Pi 4:
YuNet on a 640x640 and a 320x320 picture, one thread. Published Pi 4 (Cortex-A72 1.5 GHz,
64-bit Raspberry Pi OS) figures: 213.2, 212.6, 229.8 ms at 640x640 and 58.7, 54.4, 54.4 ms at
320x320 on three pictures (github.com/TonyCongqianWang/cv_facedetection_eval,
time_comparison_pi.md). Raspberry Pi 5 is "two to three times" a Pi 4 in CPU performance
(Raspberry Pi's launch figure, September 2023). Every stage is scaled by the same ratio, which
assumes the classifier and the detector slow down alike on a Cortex-A72 (int8 on ARM
usually gains more than on this x86 CPU without VNNI, so the classifier is likely better).
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from edge.benchmark import median_ms
from edge.console import Parser
from edge.detectors.yunet import find_model

PI4_MS = {640: float(np.mean([213.2, 212.6, 229.8])), 320: float(np.mean([58.7, 54.4, 54.4]))}
PI5_SPEEDUP = (2.0, 3.0)


def yunet_ms_here(model: Path, side: int, calls: int = 50) -> float:
    cv2.setNumThreads(1)
    detector = cv2.FaceDetectorYN.create(str(model), "", (side, side), 0.6, 0.3, 5000)
    picture = cv2.resize(cv2.imread(str(Path(__file__).resolve().parents[1] / "edge/assets/face.jpg")), (side, side))
    return median_ms(lambda: detector.detect(picture), calls, warmup=5)


def main(argv=None) -> int:
    p = Parser(prog="tools/pi_projection.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bench", type=Path, nargs="+", help="edge-bench --json outputs from this machine")
    p.add_argument("--detector-dir", type=Path, required=True)
    args = p.parse_args(argv)
    model = find_model(args.detector_dir)
    ratios = {side: PI4_MS[side] / yunet_ms_here(model, side) for side in PI4_MS}
    for side, ratio in ratios.items():
        print(f"YuNet {side}x{side}, 1 thread: Pi 4 {PI4_MS[side]:.1f} ms (published) = {ratio:.1f}x this machine")
    ratio = float(np.mean(list(ratios.values())))
    print(f"projection ratio (mean): Pi 4 = {ratio:.1f}x the time here; Pi 5 = Pi 4 / "
          f"{PI5_SPEEDUP[0]:.0f}-{PI5_SPEEDUP[1]:.0f}\n")
    print("| detector | backend | faces | k | gate | regions | FPS here | Pi 4 FPS (projected) "
          "| Pi 5 FPS (projected) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in (run for path in args.bench for run in json.loads(path.read_text())["runs"]):
        pi4 = run["fps"] / ratio
        print(f"| {run['detector']} | {run['backend']} | {run['faces']} | {run.get('detect_every', 1)} | "
              f"{'on' if run.get('motion_gate') else 'off'} | {'on' if run.get('motion_regions') else 'off'} | "
              f"{run['fps']:.1f} | {pi4:.1f} | "
              f"{pi4 * PI5_SPEEDUP[0]:.0f}–{pi4 * PI5_SPEEDUP[1]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
