"""``python -m export.ship BUNDLE [--name NAME]``: ship an exported bundle inside the package.

``default`` (the name by default) is the model edge-run uses unless told otherwise; any other
name is chosen with ``--model NAME``. Copies the artifacts a device runs into
``edge/models/NAME`` with a manifest that lists
only them: int8 TFLite (LiteRT, the CPU default), int8 ONNX (onnxruntime on CPU) and fp32
ONNX (CUDA/TensorRT providers on a Jetson). The fp32 TFLite stays in the export folder.
"""

import argparse
import dataclasses
import re
import shutil
import sys
from pathlib import Path

from edge import manifest as manifests
from edge import selftest
from edge.console import Parser, run_main
from edge.paths import DEFAULT_MODEL, SHIPPED_MODELS

SHIPPED = ("litert-int8", "onnx-int8", "onnx-fp32")


def ship(bundle: Path, destination: Path = DEFAULT_MODEL) -> None:
    """Copy the shipped artifacts of ``bundle`` with a manifest listing only them.

    The self-test's digest covers each artifact's own threshold, so a manifest listing fewer
    artifacts needs a digest of its own: the source proves itself first (an edited bundle is refused
    here), and the shipped copy is digested again and proves itself as the device will load it."""
    from edge.classifiers import load_classifier

    manifest = manifests.load(bundle)
    artifacts = [manifest.artifact(backend) for backend in SHIPPED]
    for artifact in artifacts:
        load_classifier(bundle / artifact.file, threads=1)  # checks the file's checksum, then its self-test
    shipped = dataclasses.replace(manifest, artifacts=artifacts)
    if shipped.selftest is not None:
        shipped = dataclasses.replace(shipped, selftest=dataclasses.replace(
            shipped.selftest, contract=selftest.contract(shipped)))
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    for artifact in artifacts:
        shutil.copy2(bundle / artifact.file, destination / artifact.file)
    for extra in ("report.md",):
        if (bundle / extra).is_file():
            shutil.copy2(bundle / extra, destination / extra)
    manifests.dump(shipped, destination / manifests.MANIFEST_NAME)
    for artifact in artifacts:
        load_classifier(destination / artifact.file, threads=1)
    print(f"shipped {', '.join(a.file for a in artifacts)} to {destination}")


def _name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a model name: letters, digits, - and _ only")
    return text


def main(argv=None) -> int:
    p = Parser(prog="python -m export.ship", description=__doc__)
    p.add_argument("bundle", type=Path, help="an export folder (python -m export --out)")
    p.add_argument("--name", type=_name, default=DEFAULT_MODEL.name,
                   help="the shipped model's name (edge-run --model NAME)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(argv)
    return run_main("python -m export.ship", lambda a: ship(a.bundle, SHIPPED_MODELS / a.name), args)


if __name__ == "__main__":
    sys.exit(main())
