"""``edge-eval``: score a model bundle on a folder-per-class set of face crops, on the device backends.

Folder names are the manifest's labels. Each image is taken whole as a face crop (padded to
a square, as training keeps tight crops), so this measures the classifier alone.

Usage::

    edge-eval --model edge/models/default --data crops/ --json eval.json
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from ..config import ModelConfig
from ..console import Parser, whole_number
from ..paths import DEFAULT_MODEL
from ..scoring import SIZE_BUCKETS, load_crops

BACKEND_NAMES = next(f for f in dataclasses.fields(ModelConfig) if f.name == "backend").metadata["choices"]


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle folder, manifest or artifact")
    p.add_argument("--data", type=Path, required=True, help="folder with one sub-folder of crops per label")
    p.add_argument("--backend", default=None, choices=BACKEND_NAMES,
                   help="as edge-run's --backend (litert and onnx mean their int8 artifact)")
    p.add_argument("--threads", type=whole_number(1, 64), default=1)
    p.add_argument("--json", type=Path, default=None, help="write accuracy, per_class and confusion here")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def render(metrics: dict, labels: list[str]) -> str:
    width = max(len(label) for label in labels) + 2
    lines = [f"accuracy {metrics['accuracy']:.4f} on {metrics['n']} crops", "",
             f"{'':{width}}precision  recall  f1      support"]
    for label in labels:
        s = metrics["per_class"][label]
        lines.append(f"{label:{width}}{s['precision']:.4f}     {s['recall']:.4f}  {s['f1']:.4f}  {s['support']}")
    column = max(14, width + 1)
    lines += ["", "confusion (rows: true, columns: predicted)",
              f"{'':{width}}" + "".join(f"{x:>{column}}" for x in labels)]
    for label, row in zip(labels, metrics["confusion"], strict=True):
        lines.append(f"{label:{width}}" + "".join(f"{n:>{column}}" for n in row))
    if metrics.get("by_size"):
        buckets = [name for _, _, name in SIZE_BUCKETS]
        lines += ["", "recall by face size (shorter side, px): right/faces",
                  f"{'':{width}}" + "".join(f"{b:>10}" for b in buckets)]
        for label, row in metrics["by_size"].items():
            cells = [f"{row[b]['right']}/{row[b]['n']}" if b in row else "-" for b in buckets]
            lines.append(f"{label:{width}}" + "".join(f"{c:>10}" for c in cells))
    return "\n".join(lines)


def body(args) -> int:
    from ..classifiers import load_classifier
    from ..scoring import summarize

    classifier = load_classifier(args.model, args.backend, args.threads)
    manifest = classifier.manifest
    crops = load_crops(args.data, manifest.labels, classifier.size)
    for line in crops.skipped:
        print(f"edge-eval: skipped {line}", file=sys.stderr)
    probabilities = np.concatenate([classifier.classify(crops.pixels[i:i + 64])
                                    for i in range(0, len(crops.pixels), 64)])
    metrics = summarize(crops.targets, probabilities, manifest.labels, manifest.violation_label, classifier.threshold,
                        crops.sizes)
    print(f"model {classifier.shown_name} ({classifier.artifact.backend}), {manifest.input_size} px, "
          f"threshold {classifier.threshold}")
    print(render(metrics, manifest.labels))
    if args.json:
        keep = {key: metrics[key] for key in ("accuracy", "per_class", "confusion", "n", "macro_f1", "by_size")}
        keep.update(labels=manifest.labels, backend=classifier.artifact.backend, skipped=len(crops.skipped))
        args.json.write_text(json.dumps(keep, indent=2) + "\n")
    return 0


def main(argv=None) -> int:
    from ..console import run_main

    return run_main("edge-eval", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
