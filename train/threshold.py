"""``python -m train.threshold``: choose a finished run's decision threshold again, without training again.

Training takes a quarter of an hour on a CPU; the threshold takes seconds. This predicts the run's
validation and test splits (and the calibration set) with its saved model, applies the rule asked
for, and rewrites the run's ``labels.json``, ``metrics.json``, ``report.md`` and plots, as training
would have written them with that rule. Export reads the threshold from ``labels.json``.

Usage::

    python -m train.threshold --run runs/m128 --calibrate ../shared/datasets/masks-oos --max-false-alarms 0.022
"""

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.cli import Parser, number, run_main

from .runs import RunError, add_run_data_options, read_run, run_crops

RECALL_FLOOR_DOC = (
    "Among thresholds on p(violation) whose violation recall on the validation split is at "
    "least the recall floor, the one with the highest balanced accuracy (the lowest threshold on "
    "ties, as a missed violation costs more); if none reaches the floor, the highest balanced "
    "accuracy overall. The threshold is then placed midway to the next lower validation score."
)

FALSE_ALARM_RULE_DOC = (
    "The lowest threshold on p(violation) at which at most {budget:.1%} of the compliant faces ({compliant}) "
    "of the validation split, and of the calibration set when one is given, are called a violation: false "
    "alarms are bounded on every source, and within that bound as many violations as possible are caught."
)


@dataclass(frozen=True)
class ThresholdRule:
    min_recall: float = 0.99
    max_false_alarms: float | None = None  # when set, the false-alarm rule instead of the recall floor
    calibrate: Path | None = None  # the out-of-source set's folder

    def as_dict(self) -> dict:
        return {"min_recall": self.min_recall, "max_false_alarms": self.max_false_alarms,
                "calibrate": str(self.calibrate) if self.calibrate else None}


def rule_of(config: dict, metrics: dict) -> ThresholdRule:
    """The rule that chose a run's threshold: as recorded with it (``train.threshold`` may have
    changed it after training), else as the training command gave it."""
    given = (metrics.get("threshold") or {}).get("rule_args") or config["args"]
    calibrate = given.get("calibrate")
    return ThresholdRule(given.get("min_recall", 0.99), given.get("max_false_alarms"),
                         Path(calibrate) if calibrate else None)


def choose(labels, violation, probabilities: dict, truths: dict, rule: ThresholdRule) -> dict | None:
    """The violation threshold ``rule`` gives for one model's ``probabilities`` (per set: "val", and
    "calibration" when the rule has a calibration set) and the sets' true labels; None without a
    violation label."""
    from edge.metrics import choose_threshold, threshold_for_false_alarms
    from edge.policy import OK, default_for

    if violation is None:
        return None
    v = labels.index(violation)
    calibrated = "calibration" in probabilities
    if rule.max_false_alarms is not None:
        compliant = [label for label, severity in default_for(labels, violation).items() if severity == OK]
        ok = [labels.index(c) for c in compliant]
        sets = ["val"] + (["calibration"] if calibrated else [])
        info = threshold_for_false_alarms(
            [probabilities[on][np.isin(truths[on], ok), v] for on in sets], rule.max_false_alarms)
        info["rule_doc"] = FALSE_ALARM_RULE_DOC.format(budget=rule.max_false_alarms, compliant=", ".join(compliant))
        info["chosen_on"] = "val" + (f" + {rule.calibrate}" if calibrated else "")
    else:
        on = "calibration" if calibrated else "val"
        info = choose_threshold(truths[on] == v, probabilities[on][:, v], rule.min_recall)
        info["rule_doc"] = RECALL_FLOOR_DOC.replace("the validation split", f"the {on} set")
        info["chosen_on"] = str(rule.calibrate) if calibrated else "val"
    info["rule_args"] = rule.as_dict()
    return info


def rethreshold(run: Path, rule, data=None, detector_dir=None, cache=".cache/faces") -> dict:
    import keras

    from .report import metrics_table, write_json
    from .run import decide, load_calibration, predict, render_report

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
    threshold_info["command"] = shlex.join(["python", "-m", "train.threshold", *sys.argv[1:]])
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
    p = Parser(prog="python -m train.threshold", description=__doc__)
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

    return run_main("python -m train.threshold", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
