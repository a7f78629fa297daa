"""Writing an evaluation: metrics.json, the classification report, plots, report.md."""

import json
from pathlib import Path

import numpy as np

from edge.scoring import SIZE_BUCKETS, summarize

from . import plots
from .split import SPLITS
from .threshold_rule import ThresholdRule, choose


def classification_report(metrics: dict) -> str:
    """A fixed-width table like scikit-learn's, from ``edge.scoring.summarize`` output."""
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


def decide(out: Path, labels, violation, probabilities: dict, arrays: dict, chosen: dict, calibration,
           rule: ThresholdRule) -> tuple[dict | None, dict]:
    """The decision threshold and every split's metrics (plots and reports written to ``out``).

    ``probabilities``: per split ("val", "test", and "calibration" when ``calibration`` is given);
    ``arrays``: (crops, labels) per split; ``chosen``: the split's records (source, face size)."""
    truths = {s: arrays[s][1] for s in ("val", "test")}
    if calibration is not None:
        truths["calibration"] = calibration.targets
    threshold_info = choose(labels, violation, probabilities, truths, rule)
    threshold = threshold_info["threshold"] if threshold_info else None
    sizes = {s: np.array([r["face_px"] for r in chosen[s]]) for s in ("val", "test")}
    results = {s: evaluate_split(s, truths[s], probabilities[s], labels, violation, threshold, out, sizes[s])
               for s in ("val", "test")}
    results["test_argmax"] = evaluate_split("test_argmax", truths["test"], probabilities["test"],
                                            labels, violation, None, out)
    sources = list(dict.fromkeys(r["source"] for s in ("val", "test") for r in chosen[s]))
    if len(sources) > 1:
        for source in sources:
            mine = np.array([r["source"] == source for r in chosen["test"]])
            results[f"test:{source}"] = evaluate_split(f"test_{source}", truths["test"][mine],
                                                       probabilities["test"][mine], labels, violation, threshold,
                                                       out, sizes["test"][mine])
    if calibration is not None:
        results["calibration"] = evaluate_split("calibration", truths["calibration"], probabilities["calibration"],
                                                labels, violation, threshold, out, calibration.sizes)
    return threshold_info, results


def render_report(labels, violation, metrics, config, counts) -> str:
    ingest = metrics["ingest"]
    taught = config["args"]["teacher"] or []
    taught = [taught] if isinstance(taught, str) else taught  # a run from before several teachers
    lines = [
        "# Training run report", "",
        f"Command: `{config['command']}`  ",
        f"Data checksum (sha256): `{config['data_checksum']}`  ",
        f"Seed {config['args']['seed']}, MobileNetV2 {config['args']['alpha']} at {config['args']['size']} px"
        f"{', cut from ' + config['args']['start_from'] if config['args'].get('start_from') else ''}"
        f"{', distilled from ' + ' and '.join(taught) if taught else ''}, "
        f"wall time {metrics['wall_time_s'] / 60:.1f} min on {'GPU' if config['gpu'] else 'CPU'}, "
        f"best epoch {metrics['best_epoch']}.", "",
        "## Classes and split", "",
        f"Class order: {', '.join(f'{i}={name}' for i, name in enumerate(labels))}. Sources: "
        f"{', '.join(str(d) for d in config['args']['data'])}.", "",
        "| split | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels),
        *[f"| {s} | " + " | ".join(str(c) for c in counts[s]) + " |" for s in SPLITS], "",
        "Near-duplicates (perceptual hash, mirrored copies included) never straddle two "
        "splits, within each source; a scene set's faces split with their photo, and its test split is its "
        "held-out photos (`train.split.held_out`). `split.csv` lists every face's split and group.", "",
        "## Ingest", "",
        *[f"- {key}: {n}" for key, n in sorted(ingest["by_status"].items())],
        f"- converted (grayscale, RGBA, 16-bit): {ingest['converted']}", "",
        "Statuses: `box` cut with a scene set's box, `face` cut to the largest detected face, `tight` kept whole "
        "(the face fills "
        "it), `no_face` no face found (kept whole unless `--no-face drop`), `skipped` "
        "unreadable, `dropped` no face and dropped. Every file is listed in `ingest.csv`.", "",
    ]
    if ingest["skipped"]:
        lines += ["Skipped or dropped:", "", *[f"- {s}" for s in ingest["skipped"][:50]], ""]
    lines += ["## Metrics", "",
              metrics_table({k: metrics[k] for k in metrics["splits"]}, violation), "",
              "`test_argmax` uses the plain argmax; the other rows use the decision threshold. `test:SOURCE` is "
              "the test split of one source; `calibration` the out-of-source set the threshold was chosen on.", "",
              "### Recall by face size (shorter side of the face in its source picture, px)", "",
              size_table({k: metrics[k] for k in metrics["splits"] if "by_size" in metrics[k]}), ""]
    if metrics["threshold"]:
        t = metrics["threshold"]
        lines += ["## Decision threshold", "",
                  f"`{violation}` when p({violation}) >= **{t['threshold']:.4f}** ({t['rule']}).",
                  "", t["rule_doc"], ""]
    lines += ["## Plots", "", "![curves](training_curves.png) ![confusion](confusion_test.png) "
              "![roc](roc_test.png)", "", "Crop examples: ![crops](crop_examples.png)", ""]
    return "\n".join(lines)
