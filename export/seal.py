"""``python -m export.seal BUNDLE``: give a bundle exported before the self-test existed its self-test.

It runs every artifact on the self-test pictures (``edge.selftest``) and rewrites the manifest as
the current version with what they gave, so the device can prove the bundle at every load from then on;
a bundle without a policy gets the default one (``edge.policy.default_for``: its violation label a
violation, ``mask_incorrect`` a warning).
Seal only a bundle you exported yourself and have checked (``edge-eval``): sealing writes down
whatever the manifest says now, a wrong label order included.
"""

import argparse
import dataclasses
import sys
from pathlib import Path

from edge import manifest as manifests
from edge import selftest
from edge.console import Parser, run_main
from edge.errors import EdgeError


class SealError(EdgeError, ValueError):
    """The bundle cannot be given a self-test that tells its labels apart."""


def seal(bundle: Path) -> manifests.Manifest:
    """The bundle's manifest with a self-test measured on its own artifacts, written back in place."""
    from edge.classifiers import load_classifier
    from edge.policy import default_for

    bundle = Path(bundle)
    manifest = manifests.load(bundle)
    classifiers = [load_classifier(bundle / a.file, threads=1, prove=False) for a in manifest.artifacts]
    # The float artifact chooses: int8 ones then only have to agree with it on pictures it is sure of.
    reference = next((c for c in classifiers if c.artifact.precision == "fp32"), classifiers[0])
    seeds = selftest.choose(reference)
    artifacts = []
    for classifier in classifiers:
        expected = selftest.results(classifier, seeds)
        if not selftest.discriminates(expected, selftest.TOLERANCE):
            raise SealError(f"{classifier.artifact.file} gives about the same probability to every label on the "
                            "self-test pictures, so a swapped label could not be seen — is the model trained?")
        artifacts.append(dataclasses.replace(classifier.artifact, selftest=expected))
    test = manifests.SelfTest(seeds, selftest.TOLERANCE, 1, selftest.crop_means(manifest, seeds),
                              selftest.contract(manifest))
    policy = manifest.policy or default_for(manifest.labels, manifest.violation_label)
    sealed = dataclasses.replace(manifest, schema_version=manifests.SCHEMA_VERSION, artifacts=artifacts, selftest=test,
                                 policy=policy)
    manifests.dump(sealed, bundle / manifests.MANIFEST_NAME)
    for artifact in sealed.artifacts:
        load_classifier(bundle / artifact.file, threads=1)  # proves itself as the device will load it
    return sealed


def main(argv=None) -> int:
    p = Parser(prog="python -m export.seal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path, help="an exported bundle folder")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(argv)

    def body(a):
        sealed = seal(a.bundle)
        print(f"sealed {a.bundle}: self-test of {len(sealed.selftest.seeds)} pictures on "
              f"{', '.join(x.backend for x in sealed.artifacts)}")

    return run_main("python -m export.seal", body, args)


if __name__ == "__main__":
    sys.exit(main())
