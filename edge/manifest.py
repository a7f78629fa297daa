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
