"""The rule that chooses a run's violation threshold from its models' probabilities: a recall floor, or a
bound on false alarms on every source (validation split and an out-of-source calibration set)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    """The rule that chose a run's threshold: as recorded with it (``train.rethreshold`` may have
    changed it after training), else as the training command gave it."""
    given = (metrics.get("threshold") or {}).get("rule_args") or config["args"]
    calibrate = given.get("calibrate")
    return ThresholdRule(given.get("min_recall", 0.99), given.get("max_false_alarms"),
                         Path(calibrate) if calibrate else None)


def choose(labels, violation, probabilities: dict, truths: dict, rule: ThresholdRule) -> dict | None:
    """The violation threshold ``rule`` gives for one model's ``probabilities`` (per set: "val", and
    "calibration" when the rule has a calibration set) and the sets' true labels; None without a
    violation label."""
    from edge.policy import OK, default_for
    from edge.scoring import choose_threshold, threshold_for_false_alarms

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
