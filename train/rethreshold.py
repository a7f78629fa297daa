"""``python -m train.rethreshold``: choose a finished run's decision threshold again, without training again.

Training takes a quarter of an hour on a CPU; the threshold takes seconds. This predicts the run's
validation and test splits (and the calibration set) with its saved model, applies the rule asked
for, and rewrites the run's ``labels.json``, ``metrics.json``, ``report.md`` and plots, as training
would have written them with that rule. Export reads the threshold from ``labels.json``.

Usage::

    python -m train.rethreshold --run runs/m128 --calibrate ../shared/datasets/masks-oos --max-false-alarms 0.022
"""

import json
import shlex
import sys
from pathlib import Path

from edge.console import Parser, number, run_main

from .rundir import RunError, add_run_data_options, read_run, run_crops
from .threshold_rule import ThresholdRule


def rethreshold(run: Path, rule, data=None, detector_dir=None, cache=".cache/faces") -> dict:
    import keras

    from .dataset import load_calibration
    from .model import predict
    from .report import decide, metrics_table, render_report, write_json

    contract, config, rows = read_run(run)
    labels, violation = contract["labels"], contract["violation_label"]
    crops = run_crops(contract, config, rows, data, detector_dir, cache, splits=("val", "test"))
    chosen = {split: [r for r in rows if r["split"] == split] for split in ("val", "test")}
    for split in chosen:
        if len(chosen[split]) != len(crops[split][1]):
            raise RunError(f"some {split} images of {run} can no longer be read: train the run again")
        for r in chosen[split]:  # a run from before these columns: one source, sizes unknown (0)
            r["face_px"], r["source"] = float(r.get("face_px") or 0), r.get("source") or ""
    model = keras.models.load_model(run / "model.keras")
    probabilities = {s: predict(model, crops[s][0], 64) for s in ("val", "test")}
    calibration = load_calibration(rule.calibrate, labels, contract["input_size"]) if rule.calibrate else None
    if calibration is not None:
        probabilities["calibration"] = predict(model, calibration.pixels, 64)
    threshold_info, results = decide(run, labels, violation, probabilities, crops, chosen, calibration, rule)
    threshold_info["command"] = shlex.join(["python", "-m", "train.rethreshold", *sys.argv[1:]])
    contract["threshold"] = threshold_info["threshold"]
    write_json(run / "labels.json", contract)
    metrics = json.loads((run / "metrics.json").read_text())
    for name in metrics.get("splits", []):
        metrics.pop(name, None)
    metrics.update(results, splits=list(results), threshold=threshold_info)
    write_json(run / "metrics.json", metrics)
    (run / "report.md").write_text(render_report(labels, violation, metrics, config, metrics["split_counts"]))
    print(metrics_table(results, violation))
    print(f"threshold {threshold_info['threshold']:.4f} ({threshold_info['rule']}) written to {run}")
    return metrics


def main(argv=None) -> int:
    p = Parser(prog="python -m train.rethreshold", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="a finished training run folder")
    p.add_argument("--calibrate", type=Path, default=None, help="out-of-source face crops, a folder per class")
    p.add_argument("--min-recall", type=number(0, maximum=1), default=0.99,
                   help="recall floor rule (as python -m train)")
    p.add_argument("--max-false-alarms", type=number(0, maximum=0.5), default=None,
                   help="false-alarm rule (as python -m train)")
    add_run_data_options(p)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)

    def body(a):
        rethreshold(a.run, ThresholdRule(a.min_recall, a.max_false_alarms, a.calibrate), a.data, a.detector_dir,
                    a.cache)

    return run_main("python -m train.rethreshold", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
