"""The manifest: the one contract between training/export and the device.

Export writes it through this module and the device reads it through this module, so the
schema is defined once. Loading is strict: an unknown or missing key is an error that
names it, and artifacts are checked against their sha256 before they are used.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import schema
from .decision import not_face_index
from .errors import ModelFileError, ModelMismatchError
from .policy import SEVERITIES
from .schema import spec

SCHEMA_VERSION = 4  # 2 added the self-test, 3 the policy, 4 a threshold per artifact
READS = (1, 2, 3, 4)  # a version 1 bundle still loads, with a warning that it cannot prove itself
MANIFEST_NAME = "manifest.json"

_NAME = (r"[A-Za-z0-9][A-Za-z0-9._-]*", "a file name inside the bundle folder (letters, digits, '.', '_', '-')")
_SHA256 = (r"[0-9a-f]{64}", "64 lower-case hex digits")
_TEXT = (r"(?s).*\S.*", "a non-empty text")


@dataclass(frozen=True)
class TensorSpec:
    shape: list[int] = spec(items=(2, 4))  # NHWC for images; -1 for a free batch dimension
    dtype: str = spec(choices=("int8", "uint8", "float32"))
    scale: float | None = spec(None, minimum=1e-12, maximum=1e6)  # quantization, None for float tensors
    zero_point: int | None = spec(None, minimum=-128, maximum=255)

    def check(self, where: str, error: type) -> None:
        if any(d < -1 or d == 0 for d in self.shape):
            raise error(f"{schema.join(where, 'shape')} is {self.shape}; sizes must be positive (-1 for the batch)")
        if (self.dtype == "float32") != (self.scale is None) or (self.scale is None) != (self.zero_point is None):
            raise error(f"{where}: a {self.dtype} tensor needs "
                        f"{'no scale or zero_point' if self.dtype == 'float32' else 'a scale and a zero_point'}")


@dataclass(frozen=True)
class Artifact:
    file: str = spec(pattern=_NAME)  # relative to the manifest
    format: str = spec(choices=("tflite", "onnx"))
    precision: str = spec(choices=("int8", "fp32", "fp16"))
    sha256: str = spec(pattern=_SHA256)
    size_bytes: int = spec(minimum=1, maximum=2 ** 40)
    input: TensorSpec = spec()
    output: TensorSpec = spec()
    metrics: dict[str, Any] = spec(default_factory=dict)  # on the run's test split
    # The probabilities this artifact gave for the manifest's self-test pictures, by label.
    selftest: list[dict[str, float]] | None = spec(None, items=(1, 64))
    # p(violation) at or above which this artifact calls a face a violation, chosen by the run's rule on its
    # own outputs: int8 rounding moves probabilities, and the float model's threshold then breaks the rule's
    # bound. None (before schema 4): the manifest's threshold.
    threshold: float | None = spec(None, minimum=0.001, maximum=0.999)

    @property
    def backend(self) -> str:
        return f"{'litert' if self.format == 'tflite' else 'onnx'}-{self.precision}"

    def check(self, where: str, error: type) -> None:
        if any(not 0.0 <= p <= 1.0 for result in self.selftest or [] for p in result.values()):
            raise error(f"{schema.join(where, 'selftest')} holds a probability outside 0 to 1")
        if not self.file.endswith(f".{self.format}"):
            raise error(f"{where}: file {self.file!r} is not a .{self.format} file as its format says")


@dataclass(frozen=True)
class Crop:
    """How a face box becomes the model's input: see edge.crops.CropRule."""

    margin: float = spec(minimum=0.0, maximum=1.0)
    square: bool = spec()


@dataclass(frozen=True)
class SelfTest:
    """Pictures made from seeds (edge.selftest) that every artifact must classify as it did at export."""

    seeds: list[int] = spec(items=(1, 64))
    tolerance: float = spec(minimum=0.001, maximum=0.5)  # largest difference in any probability
    recipe: int = spec(choices=(1,))  # how the pictures are drawn, so a later runtime can add recipes
    crop_means: list[float] = spec(items=(1, 64))  # mean pixel of each picture's crop: the crop path's fingerprint
    contract: str = spec(pattern=_SHA256)  # sha256 of what decides a count: labels, threshold, input, crop

    def check(self, where: str, error: type) -> None:
        if len(self.crop_means) != len(self.seeds):
            raise error(f"{schema.join(where, 'crop_means')} must give one mean per seed")
        if not all(0 <= seed < 2 ** 32 for seed in self.seeds):
            raise error(f"{schema.join(where, 'seeds')} {self.seeds} must be whole numbers from 0 to 2^32 - 1")
        if not all(0.0 <= mean <= 255.0 for mean in self.crop_means):
            raise error(f"{schema.join(where, 'crop_means')} must be pixel values from 0 to 255")


@dataclass(frozen=True)
class Manifest:
    schema_version: int = spec(choices=READS)
    name: str = spec(pattern=_TEXT)
    labels: list[str] = spec(items=(2, 16))
    violation_label: str | None = spec()
    # p(violation) at or above which a face is a violation: at 0 every face would be one, at 1 none.
    threshold: float | None = spec(minimum=0.001, maximum=0.999)
    input_size: int = spec(minimum=16, maximum=1024)
    layout: str = spec(choices=("NHWC",))
    pixel_format: str = spec(choices=("RGB",))
    input_range: list[int] = spec()  # raw pixels, normalisation is inside the model
    crop: Crop = spec()
    artifacts: list[Artifact] = spec(items=(1, 16))
    data: dict[str, Any] = spec()
    tools: dict[str, Any] = spec()
    created: str = spec()
    selftest: SelfTest | None = spec(None)
    # label -> ok | warning | violation (edge.policy); None before schema 3: the violation label alone
    policy: dict[str, str] | None = spec(None)

    @property
    def violation_index(self) -> int | None:
        return self.labels.index(self.violation_label) if self.violation_label else None

    @property
    def not_face_index(self) -> int | None:
        return not_face_index(self.labels)

    def threshold_of(self, artifact: Artifact) -> float | None:
        return self.threshold if artifact.threshold is None else artifact.threshold

    def artifact(self, backend: str) -> Artifact:
        for artifact in self.artifacts:
            if backend in (artifact.backend, artifact.file):
                return artifact
        have = ", ".join(a.backend for a in self.artifacts)
        raise ModelMismatchError(f"the model bundle has no {backend} artifact (it has: {have})")

    def check(self, where: str, error: type) -> None:
        """What no single field can say: the fields agree with each other (``where`` is "" at the top)."""
        if any(not label.strip() for label in self.labels) or len(set(self.labels)) != len(self.labels):
            raise error(f"labels {self.labels} must be distinct, non-empty names")
        if self.violation_label is not None and self.violation_label not in self.labels:
            raise error(f"violation_label {self.violation_label!r} is not one of the labels {self.labels}")
        if self.input_range != [0, 255]:
            raise error(f"input_range is {self.input_range}; this runtime feeds raw pixels, [0, 255]")
        wanted = [self.input_size, self.input_size, 3]
        for i, a in enumerate(self.artifacts):
            at = f"artifacts[{i}]"
            if any(a.file == b.file or a.backend == b.backend for b in self.artifacts[:i]):
                raise error(f"{at} repeats {a.file} or its backend {a.backend}")
            if len(a.input.shape) != 4 or a.input.shape[1:] != wanted:
                raise error(f"{at}.input.shape is {a.input.shape}, but input_size {self.input_size} means "
                            f"[-1, {self.input_size}, {self.input_size}, 3]")
            if a.output.shape[-1] != len(self.labels):
                raise error(f"{at}.output.shape is {a.output.shape}, but there are {len(self.labels)} labels")
            seeds = None if self.selftest is None else len(self.selftest.seeds)
            if (a.selftest is None) != (seeds is None) or (a.selftest is not None and len(a.selftest) != seeds):
                raise error(f"{at}.selftest must give one result per self-test seed")
            if a.threshold is not None and self.violation_label is None:
                raise error(f"{at}.threshold is given, but there is no violation_label for it to decide")
            for result in a.selftest or []:
                if sorted(result) != sorted(self.labels):
                    raise error(f"{at}.selftest names the labels {sorted(result)}, not {sorted(self.labels)}")
        if self.policy is not None:
            strange = [f"{label} = {value!r}" for label, value in self.policy.items()
                       if label not in self.labels or value not in SEVERITIES]
            if strange:
                raise error(f"policy {', '.join(strange)}: each key must be a label ({', '.join(self.labels)}) "
                            f"and each value one of {', '.join(SEVERITIES)}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse(data, origin: str = "manifest") -> Manifest:
    """A Manifest from parsed JSON; anything wrong is one ModelMismatchError naming the key."""
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version not in READS or isinstance(version, bool):
        raise ModelMismatchError(
            f"{origin}: schema version {schema.shown(version)}, this runtime reads "
            f"{', '.join(map(str, READS))}: re-export the model with this version, or install the matching runtime"
        )
    if (version == 1) != (data.get("selftest") is None):
        raise ModelMismatchError(f"{origin}: schema version {version} "
                                 f"{'has no selftest' if version == 1 else 'needs its selftest'} — re-export the model")
    if (version >= 3) != (data.get("policy") is not None):
        raise ModelMismatchError(f"{origin}: schema version {version} "
                                 f"{'needs its policy' if version >= 3 else 'has no policy'} — re-export the model")
    try:
        return schema.build(Manifest, data, "", ModelMismatchError)
    except ModelMismatchError as exc:
        raise ModelMismatchError(f"{origin}: {exc} — re-export the model, or copy the bundle again") from None


def load(path: Path | str) -> Manifest:
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ModelFileError(f"no model manifest at {path} — point --model at an exported bundle")
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ModelMismatchError(f"manifest {path} is not valid JSON{where} — re-export the model, or copy "
                                 "the bundle again") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read the manifest {path} ({exc.strerror.lower()})") from None
    return parse(data, f"manifest {path}")


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
