"""``python -m train.evaluate``: score a saved model on any folder-per-class set of images.

The images go through the same face-crop preparation as training (the run's detector, crop
rule and input size), and the run's decision threshold applies, so the figures are those
of the model as the device would use it.
"""

import json
import sys
from pathlib import Path

import numpy as np

from edge import detectors
from edge.console import Parser, number, run_main

from .dataset import DatasetError, list_samples, resolve_labels
from .faces import PrepConfig, prepare
from .report import evaluate_split, metrics_table, write_json


def load_contract(model_path: Path) -> dict:
    labels_file = model_path.parent / "labels.json"
    if not labels_file.is_file():
        raise DatasetError(f"no labels.json beside {model_path}: is this a training run folder?")
    return json.loads(labels_file.read_text())


def evaluate(model_path: Path, data: Path, out: Path, detector: str, detector_dir: str,
             cache: str | None, threshold: float | None = None) -> dict:
    import keras

    contract = load_contract(model_path)
    labels = contract["labels"]
    resolve_labels([data], labels)
    threshold = contract["threshold"] if threshold is None else threshold
    prep = PrepConfig(size=contract["input_size"], detector=detector, detector_dir=detector_dir,
                      crop_margin=contract["crop"]["margin"])
    prepared = prepare(list_samples([data], labels), prep, Path(cache) if cache else None)
    usable = [r for r in prepared.records if "index" in r]
    images = prepared.crops[[r["index"] for r in usable]].astype(np.float32)
    y_true = np.array([r["label"] for r in usable])
    model = keras.models.load_model(model_path)
    probabilities = model.predict(images, batch_size=64, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_split("eval", y_true, probabilities, labels, contract["violation_label"],
                             threshold, out)
    metrics["skipped"] = [f"{r['relpath']}: {r['note']}" for r in prepared.records if "index" not in r]
    write_json(out / "metrics.json", metrics)
    print(metrics_table({"eval": metrics}, contract["violation_label"]))
    print(f"metrics and plots written to {out}")
    return metrics


def main(argv=None) -> int:
    p = Parser(prog="python -m train.evaluate", description=__doc__)
    p.add_argument("--model", required=True, type=Path, help="model.keras inside a run folder")
    p.add_argument("--data", required=True, type=Path, help="folder-per-class images")
    p.add_argument("--out", required=True, type=Path, help="folder for metrics.json and plots")
    p.add_argument("--threshold", type=number(0), default=None, help="override the run's threshold")
    p.add_argument("--detector", default="auto", choices=detectors.choices())
    p.add_argument("--detector-dir", default=".", help="folder with the detector files")
    p.add_argument("--cache", default=".cache/faces", help="face-crop cache ('' for none)")
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)

    def body(a):
        evaluate(a.model, a.data, a.out, a.detector, a.detector_dir, a.cache, a.threshold)

    return run_main("python -m train.evaluate", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
