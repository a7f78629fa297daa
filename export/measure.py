"""``python -m export.measure BUNDLE --run RUN``: add this version's figures to a bundle's artifacts.

A bundle exported before a figure existed (recall by face size, which edge-run's live view reads
for its aiming aid) gets it without a new export: the same artifacts on the same test split. The
run must be the bundle's own, or one retrained on the same data with the same seed (the same split):
same data checksum, labels, input and crop, as many test faces, and every artifact must score on them
exactly the accuracy export recorded. Only the
manifest's ``metrics`` change; the artifacts, their checksums and the self-test stay as they are.
"""

import dataclasses
import sys
from pathlib import Path

from edge import manifest as manifests
from edge.console import Parser, run_main
from edge.scoring import summarize
from train.rundir import add_run_data_options, read_run, run_crops

from .__main__ import ExportError, classify_all, test_columns


def the_bundles_run(bundle: Path, manifest, run: Path) -> tuple[dict, dict, list[dict]]:
    """The run's contract, config and split rows, once it is shown to be the bundle's run (or one retrained
    on the same data with the same seed)."""
    contract, config, rows = read_run(run)
    mine = {"data checksum": (config["data_checksum"], manifest.data["checksum"]),
            "labels": (contract["labels"], manifest.labels),
            "input size": (contract["input_size"], manifest.input_size),
            "crop": (contract["crop"], dataclasses.asdict(manifest.crop))}
    differ = [name for name, (theirs, ours) in mine.items() if theirs != ours]
    if differ:
        raise ExportError(f"{run} is not the run {bundle} was exported from: its {', '.join(differ)} differ — "
                          f"give the run named in the manifest ({manifest.data['run']}), or one retrained on the "
                          "same data with the same seed")
    return contract, config, rows


def same_test_split(run: Path, manifest, test_y, classifier, figures: dict) -> None:
    """Refuse a test split on which the artifact does not score exactly what export recorded."""
    if len(test_y) != manifest.data["test_images"]:
        raise ExportError(f"{run} has {len(test_y)} readable test faces, the bundle was measured on "
                          f"{manifest.data['test_images']} — not the same test split")
    recorded = classifier.artifact.metrics.get("accuracy")
    if recorded is None or abs(figures["accuracy"] - recorded) > 1e-9:
        raise ExportError(f"{classifier.artifact.file} scores {figures['accuracy']:.4f} on {run}'s test split, export "
                          f"recorded {recorded} — not the same split or not the same artifact")


def measure(bundle: Path, run: Path, data, detector_dir, cache) -> list[str]:
    from edge.classifiers import load_classifier

    manifest = manifests.load(bundle)
    contract, config, rows = the_bundles_run(bundle, manifest, run)
    test_x, test_y = run_crops(contract, config, rows, data, detector_dir, cache, splits=("test",))["test"]
    _, sizes = test_columns(rows, len(test_y))
    if sizes is None:
        raise ExportError(f"{run}'s split.csv has no face sizes — retrain it with this version")
    artifacts, lines = [], []
    for artifact in manifest.artifacts:
        classifier = load_classifier(manifests.verify_file(bundle, artifact), threads=1)
        figures = summarize(test_y, classify_all(classifier, test_x), manifest.labels, manifest.violation_label,
                            classifier.threshold, sizes)
        same_test_split(run, manifest, test_y, classifier, figures)
        artifacts.append(dataclasses.replace(artifact, metrics={**artifact.metrics, "by_size": figures["by_size"]}))
        lines.append(f"{artifact.file}: accuracy {figures['accuracy']:.4f} as recorded; added recall by face size")
    manifests.dump(dataclasses.replace(manifest, artifacts=artifacts), bundle / manifests.MANIFEST_NAME)
    return lines


def main(argv=None) -> int:
    p = Parser(prog="python -m export.measure", description=__doc__)
    p.add_argument("bundle", type=Path, help="a model bundle folder (an export, or edge/models/NAME)")
    p.add_argument("--run", type=Path, required=True, help="the training run the bundle was exported from")
    add_run_data_options(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")

    def body(args) -> int:
        for line in measure(args.bundle, args.run, args.data, args.detector_dir, args.cache):
            print(line)
        return 0

    return run_main("python -m export.measure", body, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
