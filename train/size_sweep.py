"""Input size and width chosen by measurement: accuracy, without_mask recall and ms per face per run.

Usage: python -m train.size_sweep runs/m96 runs/m128 ... [--exports exports] [--json FILE]   (make sweep)

Reads each run's test metrics (float, at its chosen threshold) and its export's int8 TFLite
metrics, and times the int8 TFLite on this machine: LiteRT, 1 thread, median of 300 calls
on one face after 30 untimed ones, nothing else running.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge import manifest as manifests
from edge.benchmark import median_ms
from edge.classifiers import load_classifier
from edge.console import Parser


def ms_per_face(bundle: Path, backend: str = "litert-int8", calls: int = 300) -> float:
    classifier = load_classifier(bundle, backend, threads=1)
    face = np.random.default_rng(0).integers(0, 256, (1, classifier.size, classifier.size, 3), dtype=np.uint8)
    return median_ms(lambda: classifier.classify(face), calls, warmup=30)


def row(run: Path, exports: Path) -> dict:
    test = json.loads((run / "metrics.json").read_text())["test"]
    bundle = exports / run.name
    int8 = manifests.load(bundle).artifact("litert-int8").metrics
    drop = 100 * (test["accuracy"] - int8["accuracy"])
    labels = json.loads((run / "labels.json").read_text())
    return {
        "backbone": labels["backbone"],
        "size": labels["input_size"],
        "float_accuracy": test["accuracy"],
        "float_without_mask_recall": test["per_class"]["without_mask"]["recall"],
        "int8_accuracy": int8["accuracy"],
        "int8_without_mask_recall": int8["recall_without_mask"],
        "int8_agreement": int8["agreement_with_float"],
        "passes_export_gate": drop <= 0.5 and int8["agreement_with_float"] >= 0.99,
        "int8_ms_per_face": ms_per_face(bundle),
        "fp32_ms_per_face": ms_per_face(bundle, "litert-fp32"),
    }


def main(argv=None) -> int:
    p = Parser(prog="python -m train.size_sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="training runs, one per input size or width")
    p.add_argument("--exports", type=Path, default=Path("exports"), help="where each run's export lies, by name")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    rows = []
    for run in args.runs:
        print(f"measuring {run} ...", file=sys.stderr, flush=True)
        rows.append(row(run, args.exports))
    print("| backbone | input | float acc | float without_mask recall | int8 acc | int8 without_mask recall | "
          "int8 agreement | export gate | int8 ms/face | fp32 ms/face |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backbone']} | {r['size']} | {r['float_accuracy']:.4f} | {r['float_without_mask_recall']:.4f} | "
              f"{r['int8_accuracy']:.4f} | {r['int8_without_mask_recall']:.4f} | {r['int8_agreement']:.4f} | "
              f"{'pass' if r['passes_export_gate'] else 'fail'} | {r['int8_ms_per_face']:.2f} | "
              f"{r['fp32_ms_per_face']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
