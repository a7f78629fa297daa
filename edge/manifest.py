"""The manifest: the one contract between training/export and the device.

Export writes it through this module and the device reads it through this module, so the
schema is defined once. Loading is strict: an unknown or missing key is an error that
names it, and artifacts are checked against their sha256 before they are used.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelFileError, ModelMismatchError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class TensorSpec:
    shape: list[int]  # NHWC for images; -1 for a free batch dimension
    dtype: str  # "int8" | "uint8" | "float32"
    scale: float | None = None  # quantization, None for float tensors
    zero_point: int | None = None


@dataclass(frozen=True)
class Artifact:
    file: str  # relative to the manifest
    format: str  # "tflite" | "onnx"
    precision: str  # "int8" | "fp32" | "fp16"
    sha256: str
    size_bytes: int
    input: TensorSpec
    output: TensorSpec
    metrics: dict[str, Any] = field(default_factory=dict)  # on the run's test split

    @property
    def backend(self) -> str:
        return f"{'litert' if self.format == 'tflite' else 'onnx'}-{self.precision}"


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    name: str
    labels: list[str]
    violation_label: str | None
    threshold: float | None  # p(violation) at or above which a face is a violation
    input_size: int
    layout: str  # "NHWC"
    pixel_format: str  # "RGB"
    input_range: list[int]  # raw pixels, normalisation is inside the model
    crop: dict[str, Any]  # {"margin": float, "square": bool}, see edge.crops.CropRule
    artifacts: list[Artifact]
    data: dict[str, Any]
    tools: dict[str, str]
    created: str

    @property
    def violation_index(self) -> int | None:
        return self.labels.index(self.violation_label) if self.violation_label else None

    def artifact(self, backend: str) -> Artifact:
        for artifact in self.artifacts:
            if backend in (artifact.backend, artifact.file):
                return artifact
        have = ", ".join(a.backend for a in self.artifacts)
        raise ModelMismatchError(f"the model bundle has no {backend} artifact (it has: {have})")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build(cls, data: Any, where: str):
    """Instantiate a manifest dataclass from JSON, refusing unknown and missing keys."""
    if not isinstance(data, dict):
        raise ModelMismatchError(f"manifest: {where} must be an object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ModelMismatchError(f"manifest: unknown key {where}.{unknown[0]}")
    required = [n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [n for n in required if n not in data]
    if missing:
        raise ModelMismatchError(f"manifest: missing key {where}.{missing[0]}")
    values = dict(data)
    if cls is Artifact:
        values["input"] = _build(TensorSpec, data["input"], f"{where}.input")
        values["output"] = _build(TensorSpec, data["output"], f"{where}.output")
    if cls is Manifest:
        values["artifacts"] = [_build(Artifact, a, f"artifacts[{i}]")
                               for i, a in enumerate(data["artifacts"])]
    return cls(**values)


def parse(data: dict) -> Manifest:
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != SCHEMA_VERSION:
        raise ModelMismatchError(
            f"manifest schema version {version!r}, this runtime reads {SCHEMA_VERSION}: "
            "re-export the model with this version, or install the matching runtime"
        )
    manifest = _build(Manifest, data, "manifest")
    if manifest.violation_label is not None and manifest.violation_label not in manifest.labels:
        raise ModelMismatchError(f"manifest: violation_label {manifest.violation_label!r} is not a label")
    return manifest


def load(path: Path | str) -> Manifest:
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ModelFileError(f"no model manifest at {path} — point --model at an exported bundle")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelMismatchError(f"manifest {path} is not valid JSON ({exc})") from exc
    return parse(data)


def dump(manifest: Manifest, path: Path) -> None:
    path.write_text(json.dumps(dataclasses.asdict(manifest), indent=2) + "\n")


def verify_file(bundle_dir: Path, artifact: Artifact) -> Path:
    """The artifact's path, once its size and sha256 match the manifest."""
    path = Path(bundle_dir) / artifact.file
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing — reinstall the model bundle")
    if sha256_of(path) != artifact.sha256:
        raise ModelMismatchError(
            f"{path.name} does not match its manifest (sha256 differs): the file was changed or "
            "damaged in transfer — copy the bundle again or re-export it"
        )
    return path


CHECKSUMS_NAME = "SHA256SUMS"
BUNDLE_SUFFIXES = (".tar.gz", ".tgz")


def is_packed(path: Path | str) -> bool:
    return str(path).endswith(BUNDLE_SUFFIXES)


def pack(bundle_dir: Path, tarball: Path) -> Path:
    """One tarball for the device: the bundle folder plus a SHA256SUMS of every file in it.

    Members are sorted and their owners and times zeroed, so the same bundle packs to the
    same bytes; the artifacts are checked against the manifest first, so a broken bundle
    never gets packed. The bundle folder itself is not changed.
    """
    import gzip
    import io
    import tarfile

    bundle_dir = Path(bundle_dir)
    manifest = load(bundle_dir)
    for artifact in manifest.artifacts:
        verify_file(bundle_dir, artifact)
    files = sorted(p for p in bundle_dir.iterdir() if p.is_file() and p.name != CHECKSUMS_NAME)
    sums = "".join(f"{sha256_of(p)}  {p.name}\n" for p in files).encode()

    def member(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(f"{manifest.name}/{name}")
        info.size, info.mode = size, 0o644
        return info

    partial = tarball.with_name(tarball.name + ".part")
    with open(partial, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w") as tar:
        for path in files:
            with open(path, "rb") as f:
                tar.addfile(member(path.name, path.stat().st_size), f)
        tar.addfile(member(CHECKSUMS_NAME, len(sums)), io.BytesIO(sums))
    partial.replace(tarball)
    return tarball


def unpack(tarball: Path | str, into: Path) -> Path:
    """Extract a packed bundle into ``into`` and return its folder, once SHA256SUMS holds.

    Only plain files under one top folder are accepted (tarfile's "data" filter refuses
    links, devices and paths leaving the folder), so a tarball cannot write elsewhere.
    """
    import gzip
    import tarfile
    import zlib

    tarball = Path(tarball)
    if not tarball.is_file():
        raise ModelFileError(f"no model bundle at {tarball} — build one with `make package`")
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            tops = {Path(m.name).parts[0] for m in tar.getmembers()}
            if len(tops) != 1 or tops & {"..", ".", "/"}:
                raise ModelMismatchError(f"{tarball.name} is not a model bundle (one top folder expected)")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ModelMismatchError(f"{tarball.name} is not a readable bundle ({exc}) — copy it again") from exc
    folder = Path(into) / tops.pop()
    sums = folder / CHECKSUMS_NAME
    if not sums.is_file():
        raise ModelMismatchError(f"{tarball.name} has no {CHECKSUMS_NAME} — pack it with `make package`")
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        path = folder / name
        if not path.is_file() or sha256_of(path) != digest:
            raise ModelMismatchError(f"{tarball.name}: {name} does not match {CHECKSUMS_NAME} — "
                                     "the bundle was changed or damaged in transfer; copy it again")
    return folder
