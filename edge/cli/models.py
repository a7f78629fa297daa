"""``edge-models``: the face-detector files YuNet and the SSD need (Haar needs none; YuNet and this project's
own ship inside the package).

``fetch`` downloads them from their upstream URLs, or copies them from a folder, and
checks each against its pinned sha256 before it lands in the detector folder, which is
where edge-run looks by default (a file there is used instead of the packaged one). ``list`` shows what
is there, and the detectors and classifier bundles shipped with the package.

Usage::

    edge-models fetch                               # download to ~/.local/share/maskwatch/models
    edge-models fetch --from ../shared/models/face  # copy from a folder (offline)
    edge-models list
"""

import argparse
import shutil
import sys
import urllib.request
from pathlib import Path

from .. import manifest as manifests
from ..console import Parser
from ..manifest import sha256_of
from ..paths import SHIPPED_MODELS, detector_dir, shipped_models


def registry() -> dict:
    """The files of every registered detector that needs any, by detector name."""
    from ..detectors import DETECTORS

    return {name: cls.files for name, cls in DETECTORS.items() if cls.files}


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-models", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=None,
                   help="detector folder (default: $MASKWATCH_MODELS or ~/.local/share/maskwatch/models)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = p.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download or copy the detector files, checking sha256")
    fetch.add_argument("--from", dest="source", type=Path, default=None, help="copy from this folder")
    fetch.add_argument("--mirror", default=None, help="download from this base URL instead of upstream")
    # [] among the choices: argparse checks an empty nargs="*" default against them
    fetch.add_argument("detectors", nargs="*", choices=[[], *registry()], default=[],
                       help="which detectors (default: all)")
    commands.add_parser("list", help="show which detector files are present and intact")
    return p


def _download(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        while block := response.read(1 << 16):
            out.write(block)
            done += len(block)
            if total:
                print(f"\r  {target.name.removesuffix('.part')}: {100 * done // total}%", end="", file=sys.stderr)
    print(file=sys.stderr)


def fetch_file(file, dest: Path, source: Path | None, mirror: str | None) -> None:
    from ..errors import ModelFileError, ModelMismatchError, os_reason

    target = dest / file.name
    if target.is_file() and sha256_of(target) == file.sha256:
        print(f"{file.name}: already present")
        return
    part = target.with_name(target.name + ".part")
    try:
        if source is not None:
            if not (source / file.name).is_file():
                raise ModelFileError(f"{file.name} is not in {source} — check --from")
            shutil.copyfile(source / file.name, part)
        else:
            url = f"{mirror.rstrip('/')}/{file.name}" if mirror else file.url
            try:
                _download(url, part)
            except OSError as exc:
                raise ModelFileError(f"could not download {url} ({os_reason(exc)}) — without internet, copy the files "
                                     "over and use `edge-models fetch --from FOLDER`") from exc
        found = sha256_of(part)
        if found != file.sha256:
            raise ModelMismatchError(f"{file.name} has sha256 {found[:12]}..., expected {file.sha256[:12]}... "
                                     "— the file is corrupt or not the pinned release; nothing was installed")
        part.replace(target)
        print(f"{file.name}: {'copied' if source else 'downloaded'}, sha256 ok")
    finally:
        part.unlink(missing_ok=True)


def body(args) -> int:
    from ..detectors import DETECTORS, bundle

    dest = args.dir or detector_dir()
    files = registry()
    if args.command == "list":
        print(f"detector folder: {dest}")
        for name, entries in files.items():
            for file in entries:
                path = dest / file.name
                state = "missing" if not path.is_file() else "ok" if sha256_of(path) == file.sha256 else "CHANGED"
                print(f"  {name:6} {file.name:45} {state}")
        print("detectors shipped with the package (edge-run --detector NAME):")
        for name, cls in DETECTORS.items():
            if cls.packaged is None:
                continue
            if bundle.is_bundle(cls.packaged):
                detector, _ = bundle.load(cls.packaged)
                runs = "onnx, float and int8 tflite" if detector.int8 is not None else "onnx, float tflite"
                print(f"  {name:9} bundle: detects at {detector.max_side} px, min_score {detector.min_score}, "
                      f"face_score {detector.face_score}; {runs}; trained {detector.provenance.get('trained', '?')}")
            for file in cls.files:
                path = cls.packaged / file.name
                state = "missing" if not path.is_file() else "ok" if sha256_of(path) == file.sha256 else "CHANGED"
                print(f"  {name:9} {file.name:45} {state}")
        print("classifier bundles shipped with the package (edge-run --model NAME):")
        for name in shipped_models():
            manifest = manifests.load(SHIPPED_MODELS / name)
            print(f"  {name:8} {manifest.input_size} px, labels {', '.join(manifest.labels)}; "
                  f"{', '.join(a.backend for a in manifest.artifacts)}")
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    for name in args.detectors or list(files):
        for file in files[name]:
            fetch_file(file, dest, args.source, args.mirror)
    print(f"detector files are in {dest}")
    return 0


def main(argv=None) -> int:
    from ..console import run_main

    return run_main("edge-models", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
