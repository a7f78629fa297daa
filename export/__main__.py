"""``python -m export``: a training run's model as int8 TFLite and ONNX, with a manifest.

Every artifact is run through the device's own classifier backends on the run's test split
before anything is written to OUT; int8 artifacts that lose accuracy or disagree with the
float model fail the export, and OUT is then left untouched.
"""

import argparse
import dataclasses
import functools
import json
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from edge import manifest as manifests
from edge.benchmark import median_ms
from edge.console import Parser, number, run_main, whole_number
from edge.decision import not_face_index, predict_labels
from edge.errors import EdgeError
from edge.scoring import summarize
from train.rundir import add_run_data_options, read_run, run_crops
from train.threshold_rule import ThresholdRule, choose, rule_of

from .seal import seal


class ExportError(EdgeError, ValueError):
    """The export cannot be made or did not prove itself."""


def check_model(model, contract) -> None:
    shape = tuple(model.input_shape[1:])
    expected = (contract["input_size"], contract["input_size"], 3)
    if shape != expected:
        raise ExportError(f"model input is {shape} but labels.json claims {expected}: "
                          "the run folder mixes files of two runs")
    if model.output_shape[-1] != len(contract["labels"]):
        raise ExportError(f"model has {model.output_shape[-1]} outputs but labels.json lists "
                          f"{len(contract['labels'])} labels: the run folder mixes files of two runs")


def tensor_specs(path: Path, size: int):
    if path.suffix == ".onnx":
        return (manifests.TensorSpec([-1, size, size, 3], "float32"),
                manifests.TensorSpec([-1, 0], "float32"))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    specs = []
    for detail in (interpreter.get_input_details()[0], interpreter.get_output_details()[0]):
        scale, zero_point = detail["quantization"]
        shape = [-1, *[int(d) for d in detail["shape"][1:]]]
        specs.append(manifests.TensorSpec(shape, np.dtype(detail["dtype"]).name,
                                          float(scale) if scale else None,
                                          int(zero_point) if scale else None))
    return tuple(specs)


def versions() -> dict:
    names = ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert",
             "opencv-python-headless", "numpy")
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def classify_all(classifier, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([classifier.classify(crops[i:i + batch]) for i in range(0, len(crops), batch)])


def test_columns(rows: list[dict], n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Each test face's source and size (for the figures per source and per size) from the run's split.csv
    rows; no sources and no sizes when ``n``, the faces read, says some test images became unreadable,
    and no sizes for a run from before split.csv had them."""
    test_rows = [r for r in rows if r["split"] == "test"]
    if len(test_rows) != n:
        return np.full(n, ""), None
    sizes = np.array([float(r["face_px"]) for r in test_rows]) if all(r.get("face_px") for r in test_rows) else None
    return np.array([r.get("source", "") for r in test_rows]), sizes


@dataclass(frozen=True)
class Sets:
    """What an artifact is measured on: the run's validation and test splits, and the calibration set of
    the run's threshold rule (edge.cli.eval.Crops, or None)."""

    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    calibration: object | None
    test_sources: np.ndarray
    test_sizes: np.ndarray | None


def run_sets(run: Path, contract: dict, config: dict, rows: list[dict], rule: ThresholdRule, args,
             splits=("val", "test")) -> tuple[Sets, dict]:
    """The run's splits (and the rule's calibration set) as face crops; the crops of every split read."""
    from train.dataset import load_calibration

    crops = run_crops(contract, config, rows, args.data, args.detector_dir, args.cache, splits=splits)
    test_x, test_y = crops["test"]
    if len(test_x) == 0:
        raise ExportError(f"{run}'s test split has no readable image: nothing to verify against")
    calibration = None
    if rule.calibrate is not None:
        if not Path(rule.calibrate).is_dir():
            raise ExportError(f"{run}'s threshold was chosen with the calibration set {rule.calibrate}, which is not "
                              "there — pass --calibrate with where it is now")
        calibration = load_calibration(rule.calibrate, contract["labels"], contract["input_size"])
    sources, sizes = test_columns(rows, len(test_y))
    return Sets(crops["val"], crops["test"], calibration, sources, sizes), crops


def the_rule(run: Path, config: dict, calibrate: Path | None) -> ThresholdRule:
    """The rule that chose the run's threshold, its calibration set where it is now."""
    metrics_file = run / "metrics.json"
    rule = rule_of(config, json.loads(metrics_file.read_text()) if metrics_file.is_file() else {})
    if calibrate and rule.calibrate is None:
        raise ExportError(f"{run}'s threshold rule uses no calibration set — leave out --calibrate, which only "
                          "says where a run's calibration set has moved")
    return dataclasses.replace(rule, calibrate=calibrate) if calibrate else rule


def measure_artifact(classifier, sets: Sets, labels, violation, rule: ThresholdRule, reference: tuple,
                     args, test_probabilities: np.ndarray | None = None) -> tuple[manifests.Artifact, str | None]:
    """The artifact with its own threshold (the run's rule applied to its own outputs) and its test figures
    at that threshold; and why it fails the int8 gates, or None. ``reference``: the float model's threshold,
    its labels for the test split and its test accuracy; ``test_probabilities``: the artifact's on the test
    split, when the caller has them already."""
    reference_threshold, reference_labels, reference_accuracy = reference
    probabilities = {"val": classify_all(classifier, sets.val[0])}
    truths = {"val": sets.val[1]}
    if sets.calibration is not None:
        probabilities["calibration"] = classify_all(classifier, sets.calibration.pixels)
        truths["calibration"] = sets.calibration.targets
    info = choose(labels, violation, probabilities, truths, rule)
    threshold = info["threshold"] if info else None
    if threshold is not None and rule.max_false_alarms is not None:
        # The bound holds for the float model and for the artifact: the rule over both models' outputs is the
        # higher of their thresholds. Lower would spend int8 rounding noise as budget (on v2's ONNX int8 it
        # cost a test face beyond the 0.5 point gate for no bound that needed it).
        threshold = max(threshold, reference_threshold)
    test_x, test_y = sets.test
    if test_probabilities is None:
        test_probabilities = classify_all(classifier, test_x)
    full = summarize(test_y, test_probabilities, labels, violation, threshold, sets.test_sizes)
    metrics = _short(full)
    if "by_size" in full:
        metrics["by_size"] = full["by_size"]
    if len(set(sets.test_sources)) > 1:
        metrics["by_source"] = {
            source: _short(summarize(test_y[mine], test_probabilities[mine], labels, violation, threshold))
            for source in dict.fromkeys(sets.test_sources) if (mine := sets.test_sources == source).any()}
    violation_index = labels.index(violation) if violation else None
    predicted = predict_labels(test_probabilities, violation_index, threshold, not_face_index(labels))
    agreement = float(np.mean(predicted == reference_labels))
    one_crop = functools.partial(classifier.classify, test_x[:1])
    metrics.update(agreement_with_float=agreement, ms_per_crop=median_ms(one_crop))
    artifact = dataclasses.replace(classifier.artifact, metrics=metrics, threshold=threshold)
    drop = (reference_accuracy - metrics["accuracy"]) * 100
    failure = None
    if artifact.precision == "int8" and (drop > args.max_drop or agreement < args.min_agreement):
        failure = (f"{artifact.file}: accuracy {metrics['accuracy']:.4f} vs float {reference_accuracy:.4f} "
                   f"({drop:.2f} points down, limit {args.max_drop}), agreement {agreement:.4f} "
                   f"(need {args.min_agreement})")
    return artifact, failure


def export(args) -> Path:
    import keras

    from edge.classifiers import load_classifier

    from . import convert

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ExportError(f"output folder {out} exists — choose another OUT or pass --force")
    run = Path(args.run)
    contract, config, rows = read_run(run)
    model = keras.models.load_model(run / "model.keras")
    check_model(model, contract)
    labels, violation, threshold = contract["labels"], contract["violation_label"], contract["threshold"]
    size = contract["input_size"]
    rule = the_rule(run, config, args.calibrate)
    print(f"preparing face crops of {run} ...")
    sets, crops = run_sets(run, contract, config, rows, rule, args, splits=("train", "val", "test"))
    rng = np.random.default_rng(args.seed)
    train_crops = crops["train"][0]
    if len(train_crops) == 0:
        raise ExportError("the calibration set is empty: the run's train split has no readable image")
    calibration = train_crops[rng.permutation(len(train_crops))[: args.calibration]]
    test_x, test_y = sets.test

    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        name = args.name
        files = {f"{name}.int8.tflite": "int8", f"{name}.fp32.tflite": "fp32",
                 f"{name}.fp32.onnx": "fp32", f"{name}.int8.onnx": "int8"}
        print(f"converting: int8 TFLite (calibrated on {len(calibration)} crops) ...")
        convert.tflite_int8(model, calibration, partial / f"{name}.int8.tflite")
        print("converting: fp32 TFLite, fp32 ONNX, int8 ONNX ...")
        convert.tflite_float(model, partial / f"{name}.fp32.tflite")
        convert.onnx_fp32(model, size, partial / f"{name}.fp32.onnx")
        convert.onnx_int8(partial / f"{name}.fp32.onnx", calibration, partial / f"{name}.int8.onnx")
        if args.fp16:
            files[f"{name}.fp16.tflite"] = "fp16"
            convert.tflite_float(model, partial / f"{name}.fp16.tflite", float16=True)

        float_probabilities = model.predict(test_x.astype(np.float32), batch_size=64, verbose=0)
        float_metrics = summarize(test_y, float_probabilities, labels, violation, threshold)
        float_labels = predict_labels(float_probabilities, labels.index(violation) if violation else None,
                                      threshold, not_face_index(labels))

        artifacts = []
        for file, precision in files.items():
            path = partial / file
            input_spec, output_spec = tensor_specs(path, size)
            output_spec = dataclasses.replace(output_spec, shape=[-1, len(labels)])
            artifacts.append(manifests.Artifact(
                file=file, format=path.suffix[1:], precision=precision, sha256=manifests.sha256_of(path),
                size_bytes=path.stat().st_size, input=input_spec, output=output_spec))
        # Version 1, without a self-test, until seal() has measured one on the verified artifacts.
        manifest = manifests.Manifest(
            schema_version=1, name=name, labels=labels, violation_label=violation,
            threshold=threshold, input_size=size, layout="NHWC", pixel_format="RGB", input_range=[0, 255],
            crop=manifests.Crop(**contract["crop"]), artifacts=artifacts,
            data={"checksum": config["data_checksum"], "test_images": int(len(test_y)),
                  "calibration_images": int(len(calibration)), "run": str(run),
                  "float_test_metrics": _short(float_metrics)},
            tools=versions(), created=datetime.now(UTC).isoformat(timespec="seconds"))
        manifests.dump(manifest, partial / manifests.MANIFEST_NAME)

        verified, failures = [], []
        for artifact in artifacts:
            print(f"verifying {artifact.file} on the device runtime ({artifact.backend}) ...")
            classifier = load_classifier(partial / artifact.file, threads=1, prove=False)
            measured, failure = measure_artifact(classifier, sets, labels, violation, rule,
                                                 (threshold, float_labels, float_metrics["accuracy"]), args)
            verified.append(measured)
            failures += [failure] if failure else []
        manifest = dataclasses.replace(manifest, artifacts=verified)
        manifests.dump(manifest, partial / manifests.MANIFEST_NAME)
        if not failures:
            manifest = seal(partial)
        report = render_report(manifest, float_metrics)
        (partial / "report.md").write_text(report)
        print(report)
        if failures:
            raise ExportError("int8 verification failed — " + "; ".join(failures))
        if out.exists():
            shutil.rmtree(out)
        partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(f"model bundle written to {out}")
    return out


def _short(metrics: dict) -> dict:
    short = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "n": metrics["n"],
             "confusion": metrics["confusion"]}
    for label, scores in metrics["per_class"].items():
        short[f"recall_{label}"] = scores["recall"]
    if "roc_auc" in metrics:
        short["roc_auc"] = metrics["roc_auc"]
    return short


def _shown(threshold: float | None) -> str:
    return "-" if threshold is None else f"{threshold:.4f}"


def render_report(manifest, float_metrics: dict) -> str:
    lines = ["# Export report", "",
             f"Model `{manifest.name}`, input {manifest.input_size} px RGB, labels {manifest.labels}, "
             f"float model's threshold {_shown(manifest.threshold)}, each artifact's own chosen by the run's rule "
             f"on its own outputs. Test split: {manifest.data['test_images']} face crops; "
             f"calibration: {manifest.data['calibration_images']} training crops.", "",
             "| artifact | size (KB) | threshold | accuracy | macro F1 | agreement with float "
             "| ms per crop (1 thread) |",
             "|---|---|---|---|---|---|---|",
             f"| float model (reference) | - | {_shown(manifest.threshold)} | {float_metrics['accuracy']:.4f} | "
             f"{float_metrics['macro_f1']:.4f} | 1.0000 | - |"]
    for a in manifest.artifacts:
        m = a.metrics
        lines.append(f"| {a.file} | {a.size_bytes / 1024:.0f} | {_shown(manifest.threshold_of(a))} | "
                     f"{m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['agreement_with_float']:.4f} | "
                     f"{m['ms_per_crop']:.2f} |")
    sourced = [a for a in manifest.artifacts if "by_source" in a.metrics]
    if sourced:
        lines += ["", "Per source of the test split (accuracy; recall of each label):", "",
                  "| artifact | source | n | accuracy | " + " | ".join(manifest.labels) + " |",
                  "|---|---|---|---|" + "---|" * len(manifest.labels)]
        for a in sourced:
            for source, m in a.metrics["by_source"].items():
                recalls = [f"{m[f'recall_{label}']:.4f}" if any(m["confusion"][i]) else "-"
                           for i, label in enumerate(manifest.labels)]
                lines.append(f"| {a.file} | {source} | {m['n']} | {m['accuracy']:.4f} | " + " | ".join(recalls) + " |")
    lines += ["", f"Measured on {platform.machine()}, {platform.processor() or 'cpu'}, "
              f"Python {platform.python_version()}, {manifest.created}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = Parser(prog="python -m export", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--run", required=True, help="training run folder (python -m train --out)")
    p.add_argument("--out", required=True, help="model bundle folder to write")
    p.add_argument("--force", action="store_true", help="replace an existing OUT")
    p.add_argument("--name", default="mask_classifier", help="file name stem of the artifacts")
    p.add_argument("--calibration", type=whole_number(1), default=300, help="training crops to calibrate int8 on")
    p.add_argument("--fp16", action="store_true", help="also write an fp16 TFLite for GPU delegates")
    p.add_argument("--max-drop", type=number(0), default=0.5,
                   help="most accuracy points an int8 artifact may lose against float")
    p.add_argument("--min-agreement", type=number(0), default=0.99,
                   help="least share of test crops where int8 and float give the same label")
    add_run_data_options(p)
    p.add_argument("--calibrate", type=Path, default=None,
                   help="the calibration set of the run's threshold rule, if it moved")
    p.add_argument("--seed", type=whole_number(0), default=0)
    p.add_argument("--debug", action="store_true")
    args = p.parse_args(argv)

    def body(a):
        export(a)

    return run_main("python -m export", body, args, error_code=2)


if __name__ == "__main__":
    sys.exit(main())
