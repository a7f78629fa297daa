"""``python -m export.artifact_thresholds BUNDLE --run RUN``: give each artifact of a bundle its own threshold.

Export chooses each artifact's violation threshold by the run's own rule on that artifact's outputs
(the validation split and the rule's calibration set; under the false-alarm rule never below the float
model's threshold): int8 rounding moves probabilities, and the float model's threshold applied to them
breaks the rule's bound (on the shipped v2 int8 TFLite it called 2.5% of the validation split's masked
faces unmasked against a budget of 2.2%). This does the
same for a bundle exported before (schema 3 and older), without the Keras model: the run must be the
bundle's own or one retrained on the same data with the same seed, and every artifact must first score
exactly the test accuracy export recorded. Agreement with float is then measured against the bundle's
fp32 artifact at the float model's threshold. The int8 gates of export apply; the bundle is sealed
again (schema 4) and its report rewritten, or left as it was when anything fails.
"""

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path

from edge import manifest as manifests
from edge.console import Parser, number, run_main
from edge.decision import predict_labels
from edge.scoring import summarize
from train.rundir import add_run_data_options

from .__main__ import ExportError, _shown, classify_all, measure_artifact, render_report, run_sets, the_rule
from .measure import same_test_split, the_bundles_run
from .seal import seal


def rethreshold(bundle: Path, run: Path, args) -> manifests.Manifest:
    from edge.classifiers import load_classifier

    bundle = Path(bundle)
    manifest = manifests.load(bundle)
    contract, config, rows = the_bundles_run(bundle, manifest, run)
    rule = the_rule(run, config, args.calibrate)
    sets, _ = run_sets(run, contract, config, rows, rule, args)
    test_x, test_y = sets.test
    classifiers = [load_classifier(manifests.verify_file(bundle, a), threads=1) for a in manifest.artifacts]
    reference = next((c for c in classifiers if c.artifact.precision == "fp32"), None)
    if reference is None:
        raise ExportError(f"{bundle} has no fp32 artifact to measure agreement with float against — export it again")
    labels, violation = manifest.labels, manifest.violation_label
    float_labels = predict_labels(classify_all(reference, test_x), manifest.violation_index, manifest.threshold,
                                  manifest.not_face_index)
    float_accuracy = manifest.data["float_test_metrics"]["accuracy"]
    measured, failures = [], []
    for classifier in classifiers:
        print(f"{classifier.artifact.file}: choosing its threshold on its own outputs ...")
        on_test = classify_all(classifier, test_x)
        same_test_split(run, manifest, test_y, classifier,
                        summarize(test_y, on_test, labels, violation, classifier.threshold))
        artifact, failure = measure_artifact(classifier, sets, labels, violation, rule,
                                             (manifest.threshold, float_labels, float_accuracy), args, on_test)
        measured.append(artifact)
        failures += [failure] if failure else []
    if failures:
        raise ExportError("int8 verification failed, the bundle is left as it was — " + "; ".join(failures))
    partial = bundle.parent / f".{bundle.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(bundle, partial)
        manifests.dump(dataclasses.replace(manifest, artifacts=measured), partial / manifests.MANIFEST_NAME)
        sealed = seal(partial)
        (partial / "report.md").write_text(render_report(sealed, manifest.data["float_test_metrics"]))
        shutil.copy2(partial / "report.md", bundle / "report.md")
        os.replace(partial / manifests.MANIFEST_NAME, bundle / manifests.MANIFEST_NAME)  # the artifacts are unchanged
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return sealed


def main(argv=None) -> int:
    p = Parser(prog="python -m export.artifact_thresholds", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path, help="a model bundle folder (an export, or edge/models/NAME)")
    p.add_argument("--run", type=Path, required=True, help="the training run the bundle was exported from")
    p.add_argument("--calibrate", type=Path, default=None,
                   help="the calibration set of the run's threshold rule, if it moved")
    p.add_argument("--max-drop", type=number(0), default=0.5,
                   help="most accuracy points an int8 artifact may lose against float (as export)")
    p.add_argument("--min-agreement", type=number(0), default=0.99,
                   help="least share of test crops where int8 and float give the same label (as export)")
    add_run_data_options(p)
    p.add_argument("--debug", action="store_true", help="show tracebacks")

    def body(args) -> int:
        sealed = rethreshold(args.bundle, args.run, args)
        for artifact in sealed.artifacts:
            print(f"{artifact.file}: threshold {_shown(sealed.threshold_of(artifact))} "
                  f"(float model {_shown(sealed.threshold)}), test accuracy {artifact.metrics['accuracy']:.4f}")
        print(f"{args.bundle}: sealed again (schema {sealed.schema_version})")
        return 0

    return run_main("python -m export.artifact_thresholds", body, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
