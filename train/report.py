"""Writing an evaluation: metrics.json, the classification report, plots, report.md."""

import json
from pathlib import Path

import numpy as np

from edge.metrics import SIZE_BUCKETS, summarize

from . import plots


def classification_report(metrics: dict) -> str:
    """A fixed-width table like scikit-learn's, from ``edge.metrics.summarize`` output."""
    width = max(len(label) for label in metrics["labels"]) + 2
    lines = [f"{'':{width}}precision    recall  f1-score   support", ""]
    for label, s in metrics["per_class"].items():
        lines.append(f"{label:>{width}}{s['precision']:10.4f}{s['recall']:10.4f}"
                     f"{s['f1']:10.4f}{s['support']:10d}")
    lines += ["", f"{'accuracy':>{width}}{'':20}{metrics['accuracy']:10.4f}{metrics['n']:10d}",
              f"{'macro f1':>{width}}{'':20}{metrics['macro_f1']:10.4f}{metrics['n']:10d}"]
    return "\n".join(lines) + "\n"


def evaluate_split(name: str, y_true, probabilities, labels, violation_label, threshold,
                   out_dir: Path, sizes=None) -> dict:
    """Metrics of one split, with its confusion matrix and ROC as PNG beside them."""
    metrics = summarize(y_true, probabilities, labels, violation_label, threshold, sizes)
    plots.confusion(metrics["confusion"], labels, out_dir / f"confusion_{name}.png",
                    f"{name} (n={metrics['n']})")
    if "roc_auc" in metrics:
        positive = labels.index(violation_label)
        plots.roc(np.asarray(y_true) == positive, np.asarray(probabilities)[:, positive],
                  violation_label, out_dir / f"roc_{name}.png", threshold)
    (out_dir / f"classification_report_{name}.txt").write_text(classification_report(metrics))
    return metrics


def metrics_table(results: dict[str, dict], violation_label: str | None) -> str:
    labels = next(iter(results.values()))["labels"]
    header = "| split | n | accuracy | macro F1 | " + " | ".join(f"{label} recall" for label in labels) + " |"
    rule = "|---|---|---|---|" + "---|" * len(labels)
    if violation_label:
        header += f" {violation_label} precision | ROC AUC |"
        rule += "---|---|"
    rows = [header, rule]
    for name, m in results.items():
        row = (f"| {name} | {m['n']} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
               + " | ".join(f"{m['per_class'][label]['recall']:.4f}" if m["per_class"][label]["support"] else "-"
                            for label in labels) + " |")
        if violation_label:
            v = m["per_class"][violation_label]
            row += f" {v['precision']:.4f} | {m.get('roc_auc', float('nan')):.4f} |"
        rows.append(row)
    return "\n".join(rows)


def size_table(results: dict[str, dict]) -> str:
    """Markdown: per split and label, faces right / faces in each size bucket."""
    buckets = [name for _, _, name in SIZE_BUCKETS]
    rows = ["| split | label | " + " | ".join(buckets) + " |", "|---|---|" + "---|" * len(buckets)]
    for name, m in results.items():
        for label, row in m["by_size"].items():
            cells = [f"{row[b]['right']}/{row[b]['n']}" if b in row else "-" for b in buckets]
            rows.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
