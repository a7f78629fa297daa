"""What each label means at the door: compliant, a warning, or a violation.

The model bundle's manifest says it (export writes ``without_mask`` = violation, ``mask_incorrect``
= warning); the ``[policy]`` section of the config may change it per label. A bundle from before the
policy (schema 1 and 2) has one violation label and everything else compliant.
"""

from dataclasses import dataclass

OK, WARNING, VIOLATION = "ok", "warning", "violation"
SEVERITIES = (OK, WARNING, VIOLATION)
# Someone who passed the face check but was never seen well enough to judge a mask on (far away, turned
# away): counted, so the share is visible, but neither compliant nor a violation, and never an alert.
NOT_JUDGED = "not_judged"
# A model's label for what the detector took for a face and is none (a pattern, an ear, the back of a head,
# learnt from the detector's own false faces): a track the model calls so is nobody, never counted.
NOT_FACE = "not_face"
# Who the door is not for (``[door]``, edge.door): a face that never came close enough to the door, or came
# only wholly in view at its edge, is a passer-by; someone who reached it only walking away (their face
# shrinking) is leaving. Both are recorded as such, never as people: not in compliance, never an alert.
PASSER_BY, LEAVING = "passer_by", "leaving"
NOT_PEOPLE = (PASSER_BY, LEAVING)
# The product's labels, as the summary line and edge-report name them.
WORDS = {"with_mask": "masked", "without_mask": "unmasked", "mask_incorrect": "incorrect", NOT_JUDGED: "not_judged",
         PASSER_BY: "passers_by", LEAVING: "leaving"}
DEFAULT = {"without_mask": VIOLATION, "mask_incorrect": WARNING}


@dataclass(frozen=True)
class Policy:
    severity: dict[str, str]

    def of(self, label: str | None) -> str:
        return self.severity.get(label, OK)

    def compliance(self, counts: dict[str, int]) -> float | None:
        """The share of the people judged who had a compliant label; None when nobody was judged."""
        judged = {label: n for label, n in counts.items() if label != NOT_JUDGED and label not in NOT_PEOPLE}
        total = sum(judged.values())
        return None if not total else sum(n for label, n in judged.items() if self.of(label) == OK) / total

    def compliance_percent(self, counts: dict[str, int]) -> float | None:
        """Compliance as every output gives it (MQTT, the live view's status, edge-report): percent, one decimal."""
        share = self.compliance(counts)
        return None if share is None else round(100.0 * share, 1)


def default_for(labels: list[str], violation_label: str | None) -> dict[str, str]:
    """The severities export writes: the defaults for the labels the model has, its violation label a violation."""
    severity = {label: DEFAULT.get(label, OK) for label in face_labels(labels)}
    if violation_label is not None:
        severity[violation_label] = VIOLATION
    return severity


def face_labels(labels: list[str]) -> list[str]:
    """The model's labels for a face: all but ``not_face``."""
    return [label for label in labels if label != NOT_FACE]


def countable(labels: list[str]) -> list[str]:
    """What a track can be counted as: a face label or not judged (a person), a passer-by or leaving."""
    return [*face_labels(labels), NOT_JUDGED, *NOT_PEOPLE]


def people(counts: dict[str, int]) -> int:
    """How many people ``counts`` holds, passers-by and people leaving aside."""
    return sum(n for label, n in counts.items() if label not in NOT_PEOPLE)


def resolve(manifest, overrides: dict[str, str | None]) -> Policy:
    """The manifest's policy (or, for an older bundle, its violation label), changed by ``[policy]``;
    an override for a label the model does not have changes nothing."""
    if manifest.policy is not None:
        severity = dict(manifest.policy)
    else:
        severity = {label: VIOLATION if label == manifest.violation_label else OK for label in manifest.labels}
    severity.update({label: value for label, value in overrides.items()
                     if value is not None and label in manifest.labels})
    return Policy(severity)


def counts_words(counts: dict[str, int]) -> str:
    """``masked=… unmasked=… incorrect=…``: the product's labels always, any other label too."""
    words = [f"{WORDS[label]}={counts.get(label, 0)}" for label in WORDS]
    return " ".join(words + [f"{label}={n}" for label, n in sorted(counts.items()) if label not in WORDS])


def compliance_text(counts: dict[str, int], policy: Policy) -> str:
    share = policy.compliance(counts)
    return "n/a" if share is None else f"{100.0 * share:.1f}%"
