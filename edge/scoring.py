"""Scoring a classifier: labelled face crops read from a folder, and metrics in plain numpy, shared by
training, export and ``edge-eval``.

Kept free of scikit-learn so the device can score itself with what it already has.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .decision import not_face_index, predict_labels


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, labels) -> dict:
    """Precision, recall, F1 and support of each class, from a confusion matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    true_pos = np.diag(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, actual, out=np.zeros_like(true_pos), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    return {
        label: {
            "precision": float(precision[i]), "recall": float(recall[i]),
            "f1": float(f1[i]), "support": int(actual[i]),
        }
        for i, label in enumerate(labels)
    }


def roc_curve(y_positive, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score, highest threshold first.

    The first point is (0, 0) at an infinite threshold, as in scikit-learn.
    """
    y_positive = np.asarray(y_positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    scores, y_positive = scores[order], y_positive[order]
    last_of_each = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_pos = np.cumsum(y_positive)[last_of_each]
    false_pos = (last_of_each + 1) - true_pos
    positives, negatives = max(y_positive.sum(), 1), max((~y_positive).sum(), 1)
    fpr = np.r_[0.0, false_pos / negatives]
    tpr = np.r_[0.0, true_pos / positives]
    thresholds = np.r_[np.inf, scores[last_of_each]]
    return fpr, tpr, thresholds


def auc(x, y) -> float:
    """Area under a curve by the trapezoid rule (numpy 2's trapezoid is numpy 1's trapz: Raspberry Pi OS 12's
    apt numpy is 1.24)."""
    rule = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
    return float(rule(np.asarray(y, float), np.asarray(x, float)))


def choose_threshold(y_positive, scores, min_recall: float = 0.99) -> dict:
    """Decision threshold for the positive (violation) class, chosen on validation data.

    Rule: among thresholds whose recall on the positive class is at least ``min_recall``,
    take the one with the highest balanced accuracy (mean of the two recalls), the lowest
    threshold on ties. If no threshold reaches ``min_recall``, the highest balanced
    accuracy overall. A missed violation costs more at a doorway than a second look at a
    compliant person, hence the recall floor and the tie-break. The threshold is then set
    halfway to the next lower validation score: any value in that gap gives the same
    validation result, and the middle leaves unseen faces the most room on both sides.
    """
    fpr, tpr, thresholds = roc_curve(y_positive, scores)
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    balanced = (tpr + (1.0 - fpr)) / 2.0
    eligible = tpr >= min_recall
    rule = f"max balanced accuracy with recall >= {min_recall}, lowest on ties, midway to the next score"
    if not eligible.any():
        eligible = np.ones_like(eligible)
        rule = f"max balanced accuracy (recall {min_recall} not reachable), lowest on ties, midway to the next score"
    candidates = np.flatnonzero(eligible)
    top = balanced[candidates].max()
    best = candidates[np.isclose(balanced[candidates], top, rtol=0, atol=1e-12)][-1]
    threshold = thresholds[best]
    if best + 1 < len(thresholds):
        threshold = (threshold + thresholds[best + 1]) / 2.0
    return {
        "threshold": float(threshold), "rule": rule,
        "val_recall": float(tpr[best]), "val_false_positive_rate": float(fpr[best]),
        "val_balanced_accuracy": float(balanced[best]),
    }


def threshold_for_false_alarms(compliant_scores: list, budget: float) -> dict:
    """The lowest threshold on p(violation) at which no set of compliant faces has more than ``budget`` of
    its faces called a violation.

    Each entry of ``compliant_scores`` is one set's p(violation) for faces that are compliant (say, the
    validation split and an out-of-source set): a threshold tuned on one source alone fits that source
    (on the shipped model's own validation split it came out at 0.05, on masks-oos at 0.002, which
    calls a quarter of another source's masked faces unmasked). Bounding the false alarms on every set
    and taking the lowest threshold that does, keeps the most violations the budget allows.
    """
    chosen = 0.0
    for scores in compliant_scores:
        scores = np.sort(np.asarray(scores, np.float64))[::-1]
        allowed = int(np.floor(budget * len(scores)))  # faces of this set that may be called a violation
        if allowed < len(scores):
            # above the (allowed+1)-th highest score and its ties, midway to the next higher score
            higher = scores[scores > scores[allowed]]
            chosen = max(chosen, (scores[allowed] + (higher.min() if len(higher) else 1.0)) / 2.0)
    return {"threshold": float(np.clip(chosen, 0.001, 0.999)),
            "rule": f"lowest threshold calling at most {budget:.1%} of each set's compliant faces a violation"}


# Face sizes (shorter side of the face, px) that accuracy is reported by: a doorway camera sees 30-150 px.
SIZE_BUCKETS = ((0, 32, "<32"), (32, 48, "32-48"), (48, 64, "48-64"), (64, 128, "64-128"), (128, np.inf, ">=128"))


def by_size(y_true, y_pred, sizes, labels) -> dict:
    """Per label and size bucket: faces right, faces in all, recall."""
    y_true, y_pred, sizes = np.asarray(y_true, int), np.asarray(y_pred, int), np.asarray(sizes, float)
    table = {}
    for index, label in enumerate(labels):
        row = {}
        for low, high, name in SIZE_BUCKETS:
            chosen = (y_true == index) & (sizes >= low) & (sizes < high)
            if chosen.any():
                right = int((y_pred[chosen] == index).sum())
                row[name] = {"right": right, "n": int(chosen.sum()), "recall": right / int(chosen.sum())}
        if row:
            table[label] = row
    return table


def summarize(y_true, probabilities, labels, violation_label: str | None = None,
              threshold: float | None = None, sizes=None) -> dict:
    """Accuracy, per-class scores, confusion matrix, (with a violation class) ROC AUC and (with each
    face's shorter side in ``sizes``) recall per face size."""
    labels = list(labels)
    violation_index = labels.index(violation_label) if violation_label in labels else None
    y_true = np.asarray(y_true, int)
    y_pred = predict_labels(probabilities, violation_index, threshold, not_face_index(labels))
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    result = {
        "n": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "per_class": per_class_scores(matrix, labels),
        "confusion": matrix.tolist(),
        "labels": labels,
        "threshold": threshold,
    }
    # over the labels the set holds: a label with no face in it (mask_incorrect on a two-class set) has no F1
    supported = [s["f1"] for s in result["per_class"].values() if s["support"]]
    result["macro_f1"] = float(np.mean(supported)) if supported else 0.0
    if sizes is not None:
        result["by_size"] = by_size(y_true, y_pred, sizes, labels)
    if violation_index is not None:
        y_positive = y_true == violation_index
        if 0 < y_positive.sum() < len(y_true):
            fpr, tpr, _ = roc_curve(y_positive, np.asarray(probabilities)[:, violation_index])
            result["roc_auc"] = auc(fpr, tpr)
    return result


@dataclass
class Crops:
    pixels: np.ndarray  # N x size x size x 3, RGB uint8
    targets: np.ndarray  # label index of each
    sizes: np.ndarray  # each picture's shorter side in px: the face's size, as the detector would have cut it
    skipped: list[str]


def load_crops(data: Path, labels: list[str], size: int, named: str = "--data") -> Crops:
    """One crop per picture of ``data``'s label folders, each taken whole as a face (padded square, resized).
    ``named``: how errors name the folder (the flag that gave it)."""
    from .crops import whole_image
    from .errors import ConfigError, ImageError
    from .images import is_image_file, read_image

    if not data.is_dir():
        raise ConfigError(f"{named} {data} is not a folder — give one sub-folder per label ({', '.join(labels)})")
    folders = sorted(p.name for p in data.iterdir() if p.is_dir())
    unknown = [name for name in folders if name not in labels]
    if unknown:
        raise ConfigError(f"{named} {data} has folder(s) {', '.join(unknown)} that are not labels of the model "
                          f"({', '.join(labels)}) — rename or remove them")
    crops, targets, sizes, skipped = [], [], [], []
    for index, label in enumerate(labels):
        for path in sorted((data / label).glob("*")) if (data / label).is_dir() else []:
            if not is_image_file(path):
                continue
            try:
                bgr = read_image(path).bgr
            except ImageError as exc:
                skipped.append(f"{path}: {exc}")
                continue
            crops.append(whole_image(bgr, size))
            targets.append(index)
            sizes.append(min(bgr.shape[:2]))
    if not crops:
        raise ConfigError(f"no readable image under {data}/{{{','.join(labels)}}}")
    return Crops(np.stack(crops), np.array(targets), np.array(sizes), skipped)
