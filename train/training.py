"""One training run, from a dataset folder to a run folder with everything export needs."""

import csv
import json
import platform
import shlex
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from edge.decision import not_face_index

from . import plots
from .dataset import data_checksum, is_scene_set, list_samples, load_calibration, resolve_labels
from .faces import PrepConfig, prepare, save_examples
from .fit import FitConfig, fit
from .model import backbone_name, build_model, predict
from .report import decide, metrics_table, render_report, write_json
from .rundir import RunError, read_run
from .split import SPLITS, group_near_duplicates, held_out, stratified_group_split
from .threshold_rule import ThresholdRule


def prepare_output(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not force:
            raise RunError(f"run folder {out} already exists and is not empty — "
                           "choose another OUT or pass --force to replace it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def load_run_model(run: Path, labels: list[str], role: str, backbone: str | None = None) -> keras.Model:
    """The model of a finished run (a teacher to distil from, or a start to narrow); its classes must be
    ours, in our order, and its backbone ``backbone`` when given."""
    contract, _, _ = read_run(run)
    if contract["labels"] != labels:
        raise RunError(f"{role} {run} has the classes {', '.join(contract['labels'])}, this run "
                       f"{', '.join(labels)} — give --labels in the {role}'s order")
    if backbone is not None and contract.get("backbone", backbone_name(1.0)) != backbone:
        raise RunError(f"{role} {run} is a {contract['backbone']} run; only a {backbone} run can be narrowed")
    return keras.models.load_model(run / "model.keras")


def teachers(models: list[keras.Model]) -> keras.Model | None:
    """One teacher from several finished runs: the mean of their probabilities (an ensemble of draws knows
    more than any one of them)."""
    if len(models) < 2:
        return models[0] if models else None
    sizes = {model.input_shape[1] for model in models}
    if len(sizes) > 1:
        raise RunError(f"the teachers take {' and '.join(map(str, sorted(sizes)))} px crops — give runs of one size")
    for n, model in enumerate(models):  # every run's model has the same name, and one graph needs them apart
        model.name = f"teacher_{n}"
    pixels = keras.Input(models[0].input_shape[1:])
    return keras.Model(pixels, keras.layers.Average()([model(pixels) for model in models]), name="teachers")


def split_samples(records: list[dict], distance: int, fractions, seed: int, n_classes: int,
                  scene_sources: set[str] = frozenset()):
    """Split the usable records, source by source, and give each its near-duplicate group id.

    A scene set's test split is its held-out photos (``split.held_out``, the photos every other tool
    holds out too), with every photo near-duplicating one of them; the rest is split train/val.
    """
    usable = [r for r in records if "index" in r]
    offset = 0
    for source in dict.fromkeys(r["source"] for r in usable):
        mine = [r for r in usable if r["source"] == source]
        labels = np.array([r["label"] for r in mine])
        views = [np.array([r[key] for r in mine], dtype=np.uint64) for key in ("hashes", "crop_hashes")]
        # A scene photo's faces share its picture hash; their crops must not join other photos.
        groups = group_near_duplicates([(view[:, 0], view[:, 1]) for view in views[:1 if source in scene_sources
                                                                                        else 2]], distance)
        if source in scene_sources:
            test = np.array([held_out(Path(r["relpath"].split("#")[0]).stem) for r in mine])
            test = np.isin(groups, groups[test])
            assignment = np.full(len(mine), 2)
            rest = np.flatnonzero(~test)
            assignment[rest] = stratified_group_split(labels[rest], groups[rest], fractions[:2], seed)
        else:
            assignment = stratified_group_split(labels, groups, fractions, seed)
        for record, split, group in zip(mine, assignment, groups, strict=True):
            record["split"], record["group"] = SPLITS[split], int(group) + offset
        offset += int(groups.max()) + 1
    all_labels = np.array([r["label"] for r in usable])
    assignment = np.array([SPLITS.index(r["split"]) for r in usable])
    for split in range(len(SPLITS)):
        present = np.bincount(all_labels[assignment == split], minlength=n_classes)
        if (present == 0).any():
            raise RunError(f"the {SPLITS[split]} split has no image of some class "
                           f"(counts {present.tolist()}): the dataset is too small to split")
    return usable


def keep_scene_crops(usable: list[dict], mode: str) -> None:
    """Take the split off the crops not used (they stay in ingest.csv, out of split.csv): a face cut where the
    detector put it only trains (every figure is on the annotated boxes), and with ``mode`` "detector" it
    trains instead of its annotated cut."""
    views = {r["relpath"].removesuffix("@detector") for r in usable if r["status"] == "detected"}
    for r in usable:
        if (r["status"] == "detected" and r["split"] != "train"
                or mode == "detector" and r["split"] == "train" and r["relpath"] in views):
            del r["split"]


def write_tables(out: Path, records: list[dict], labels: list[str]) -> None:
    with open(out / "ingest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "class", "status", "note"])
        for r in records:
            writer.writerow([r["relpath"], labels[r["label"]], r["status"], r["note"]])
    with open(out / "split.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "class", "split", "group", "source", "box", "face_px"])
        for r in records:
            if "split" in r:
                writer.writerow([r["relpath"], labels[r["label"]], r["split"], r["group"], r["source"],
                                 " ".join(f"{v:g}" for v in r["box"]) if r.get("box") else "", r["face_px"]])


def ingest_summary(records: list[dict], labels: list[str]) -> dict:
    summary = {"files": len(records), "by_status": {}, "converted": 0, "skipped": []}
    for r in records:
        key = f"{labels[r['label']]}/{r['status']}"
        summary["by_status"][key] = summary["by_status"].get(key, 0) + 1
        summary["converted"] += r["note"].startswith("converted")
        if r["status"] in ("skipped", "dropped"):
            summary["skipped"].append(f"{r['relpath']}: {r['note'] or r['status']}")
    return summary


def run(args) -> dict:
    started = time.time()
    out = Path(args.out)
    keras.utils.set_random_seed(args.seed)
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
    labels = resolve_labels(args.data, args.labels)
    violation = args.violation if args.violation in labels else None
    prep = PrepConfig(size=args.size, detector=args.detector, detector_dir=str(args.detector_dir),
                      crop_margin=args.margin, no_face=args.no_face, detector_views=args.scene_crops != "boxes")
    whole_epochs = args.whole_epochs if args.whole_epochs is not None else (20 if args.alpha < 1 else 0)
    fit_config = FitConfig(batch_size=args.batch_size, head_epochs=args.head_epochs,
                           head_lr=args.head_lr, fine_epochs=args.fine_epochs, fine_lr=args.fine_lr,
                           fine_from=args.fine_from, fine_decay=args.fine_decay, whole_epochs=whole_epochs,
                           whole_lr=args.whole_lr,
                           patience=args.patience, seed=args.seed, degrade=args.degrade,
                           greyscale=args.greyscale)
    if args.start_from and args.alpha == 1.0:
        raise RunError("--start-from narrows a finished run's model: give a --alpha below 1.0")
    teacher = teachers([load_run_model(Path(run), labels, "teacher") for run in args.teacher or []])
    start = load_run_model(Path(args.start_from), labels, "start", backbone_name(1.0)) if args.start_from else None
    calibration = load_calibration(args.calibrate, labels, args.size) if args.calibrate else None
    prepare_output(out, args.force)
    print(f"classes (in this order): {', '.join(labels)}; device: {'GPU' if gpus else 'CPU'}")

    samples = list_samples(args.data, labels, args.min_face)
    checksum = data_checksum(samples)
    prepared = prepare(samples, prep, Path(args.cache) if args.cache else None)
    scene_sources = {Path(root).name for root in args.data if is_scene_set(root)}
    usable = split_samples(prepared.records, args.dup_distance, args.split, args.seed, len(labels), scene_sources)
    keep_scene_crops(usable, args.scene_crops)
    write_tables(out, prepared.records, labels)
    save_examples(prepared, out / "crop_examples.png")
    chosen = {split: [r for r in usable if r.get("split") == split] for split in SPLITS}
    arrays = {split: (prepared.crops[[r["index"] for r in rows]], np.array([r["label"] for r in rows], dtype=np.int64))
              for split, rows in chosen.items()}
    counts = {s: np.bincount(arrays[s][1], minlength=len(labels)).tolist() for s in SPLITS}
    print("split sizes per class:", json.dumps(counts))

    weights = None if args.weights == "none" else args.weights
    # the crops on which a narrower net measures which of the wider net's channels carry the most
    probe = (arrays["train"][0][np.random.default_rng(args.seed).permutation(len(arrays["train"][0]))[:256]]
             if args.alpha < 1 else None)
    model = build_model(len(labels), args.size, weights, args.dropout, float16=bool(gpus), alpha=args.alpha,
                        start=start, probe=probe)
    fitted = fit(model, *arrays["train"], *arrays["val"], fit_config, teacher, not_face_index(labels))
    model.save(out / "model.keras")

    probabilities = {s: predict(model, arrays[s][0], args.batch_size) for s in ("val", "test")}
    if calibration is not None:
        probabilities["calibration"] = predict(model, calibration.pixels, args.batch_size)
    threshold_info, results = decide(out, labels, violation, probabilities, arrays, chosen, calibration,
                                     ThresholdRule(args.min_recall, args.max_false_alarms, args.calibrate))
    threshold = threshold_info["threshold"] if threshold_info else None
    plots.training_curves(fitted["history"], fitted["phase_starts"], out / "training_curves.png")

    wall = time.time() - started
    contract = {"labels": labels, "violation_label": violation, "threshold": threshold,
                "input_size": args.size, "pixel_format": "RGB", "input_range": [0, 255],
                "crop": {"margin": args.margin, "square": True}, "backbone": backbone_name(args.alpha)}
    write_json(out / "labels.json", contract)
    command = shlex.join(["python", "-m", "train", *sys.argv[1:]])
    config = {"command": command, "args": {k: ([str(x) for x in v] if isinstance(v, tuple | list) else
                                                str(v) if isinstance(v, Path) else v)
              for k, v in vars(args).items()}, "prep": asdict(prep), "fit": asdict(fit_config),
              "data_checksum": checksum, "python": platform.python_version(),
              "tensorflow": tf.__version__, "keras": keras.__version__, "gpu": bool(gpus)}
    write_json(out / "config.json", config)
    metrics = {**results, "splits": list(results), "threshold": threshold_info, "split_counts": counts,
               "ingest": ingest_summary(prepared.records, labels), "history": fitted["history"],
               "best_epoch": fitted["best_epoch"], "wall_time_s": round(wall, 1)}
    write_json(out / "metrics.json", metrics)
    (out / "report.md").write_text(render_report(labels, violation, metrics, config, counts))
    print(metrics_table(results, violation))
    print(f"run written to {out} in {wall / 60:.1f} min")
    return metrics
