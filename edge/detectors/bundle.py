"""A detector bundle: this project's own face detector and the manifest that proves it, as a classifier bundle.

A folder of ``detector.onnx`` (YuNet's graph, trained weights: ``cv2.FaceDetectorYN`` loads it unchanged), its
float TFLite twin ``detector.tflite``, its int8 twin ``detector.int8.tflite`` (optional; LiteRT runs it in two
thirds of the float twin's time), ``manifest.json`` and ``LICENSE``. The manifest holds the ONNX's sha256, the
longer side to detect at, the score floors chosen on the validation split (``train.detector_bundle``), its
figures and provenance, and the faces it found on the packaged self-test photo (``edge/assets/face.jpg``): a
device finds the same faces before it counts anyone, or refuses the bundle in one line. The int8 twin has its
own checksum and self-test faces (its boxes are not the ONNX's to the pixel).
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import schema
from ..errors import ModelFileError, ModelMismatchError
from ..images import read_image
from ..manifest import sha256_of
from ..schema import spec

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
PACKAGED = Path(__file__).parents[1] / "models" / "detectors" / "maskwatch"
SELFTEST_PHOTO = Path(__file__).parents[1] / "assets" / "face.jpg"
# How far a self-test face may move (px at the self-test size) or its score change: different OpenCV builds and
# CPUs round differently, a wrong or damaged file is off by far more.
SELFTEST_PX = 2.0
SELFTEST_SCORE = 0.02
NMS_IOU = 0.3


FILE_NAME = (r"[A-Za-z0-9][A-Za-z0-9._-]*", "a file name inside the bundle folder")
SHA256 = (r"[0-9a-f]{64}", "64 lower-case hex digits")


@dataclass(frozen=True)
class Int8Twin:
    """The bundle's int8 TFLite twin: its file, and the faces LiteRT found with it on the self-test photo."""

    file: str = spec(pattern=FILE_NAME)
    sha256: str = spec(pattern=SHA256)
    size_bytes: int = spec(minimum=1, maximum=2 ** 32)
    selftest: list[list[float]] = spec(items=(1, 16))  # as DetectorManifest.selftest
    calibration: str = spec()  # the frames that set its int8 ranges, in words


@dataclass(frozen=True)
class DetectorManifest:
    schema_version: int = spec(choices=(SCHEMA_VERSION,))
    kind: str = spec(choices=("yunet",))  # the output heads: YuNet's
    file: str = spec(pattern=FILE_NAME)
    sha256: str = spec(pattern=SHA256)
    size_bytes: int = spec(minimum=1, maximum=2 ** 32)
    max_side: int = spec(minimum=32, maximum=4096)  # detect on frames shrunk to this longer side
    min_score: float = spec(minimum=0.01, maximum=0.99)
    face_score: float = spec(minimum=0.0, maximum=0.99)
    selftest: list[list[float]] = spec(items=(1, 16))  # faces on SELFTEST_PHOTO at max_side: x, y, w, h, score
    rules: dict[str, str] = spec()  # how max_side and the floors were chosen, in words
    metrics: dict[str, Any] = spec()  # validation figures
    provenance: dict[str, Any] = spec()  # base model, sources, date, licence
    int8: Int8Twin | None = spec(None)

    def check(self, where: str, error: type) -> None:
        for key, rows in (("selftest", self.selftest), ("int8.selftest", self.int8.selftest if self.int8 else [])):
            if any(len(row) != 5 for row in rows):
                raise error(f"{schema.join(where, key)} rows must be x, y, w, h, score")
        if self.min_score > self.face_score > 0:
            raise error(f"{schema.join(where, 'min_score')} {self.min_score} is above face_score {self.face_score}")


def is_bundle(folder: Path) -> bool:
    """Whether ``folder`` holds a detector bundle (a manifest of this kind), not loose detector files."""
    path = Path(folder) / MANIFEST_NAME
    try:
        return path.is_file() and json.loads(path.read_bytes()).get("kind") == "yunet"
    except (OSError, ValueError, AttributeError):
        return False


def load(folder: Path) -> tuple[DetectorManifest, Path]:
    """The manifest and the model file of the bundle in ``folder``, its checksum verified."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    redo = "copy the bundle again or re-export it (python -m train.detector)"
    if not path.is_file():
        raise ModelFileError(f"no detector manifest at {path} — {redo}")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise ModelMismatchError(f"detector manifest {path} is not valid JSON — {redo}") from None
    try:
        manifest = schema.build(DetectorManifest, data, "", ModelMismatchError)
    except ModelMismatchError as exc:
        raise ModelMismatchError(f"detector manifest {path}: {exc} — {redo}") from None
    return manifest, _verified(folder / manifest.file, manifest.sha256, manifest.size_bytes)


def _verified(path: Path, sha256: str, size_bytes: int) -> Path:
    redo = "copy the bundle again or re-export it (python -m train.detector)"
    if not path.is_file():
        raise ModelFileError(f"detector file {path} is missing — {redo}")
    if path.stat().st_size != size_bytes or sha256_of(path) != sha256:
        raise ModelMismatchError(f"{path} does not match its manifest (sha256 differs): the file was changed or "
                                 f"damaged — {redo}")
    return path


def int8_of(manifest: DetectorManifest, folder: Path) -> Path | None:
    """The bundle's int8 twin, its checksum verified; None if it has none."""
    return None if manifest.int8 is None else _verified(Path(folder) / manifest.int8.file, manifest.int8.sha256,
                                                        manifest.int8.size_bytes)


def faces_on(model: Path, image: np.ndarray, min_score: float) -> np.ndarray:
    """Rows x, y, w, h, score that the YuNet-headed ``model`` finds on ``image`` (already at its detection size)."""
    net = cv2.FaceDetectorYN.create(str(model), "", (image.shape[1], image.shape[0]), min_score, NMS_IOU, 5000)
    _, faces = net.detect(image)
    return np.zeros((0, 5)) if faces is None else faces[:, [0, 1, 2, 3, 14]].astype(np.float64)


def selftest_image(max_side: int) -> np.ndarray:
    from ..crops import downscale_for_detection

    return downscale_for_detection(read_image(SELFTEST_PHOTO).bgr, max_side)[0]


def int8_faces_on(twin: Path, image: np.ndarray, min_score: float) -> np.ndarray:
    """``faces_on`` for an int8 TFLite twin, run by LiteRT on one thread."""
    from .yunet_litert import LitertYunet

    faces = LitertYunet(twin, min_score, NMS_IOU, threads=1).detect(image)
    return np.zeros((0, 5)) if faces is None else faces[:, [0, 1, 2, 3, 14]].astype(np.float64)


def selftest(manifest: DetectorManifest, model: Path, int8: bool = False) -> None:
    """Refuse a model (``int8``: the bundle's int8 twin) that does not find the faces it found at export on the
    self-test photo."""
    image = selftest_image(manifest.max_side)
    if int8:
        found, expected = int8_faces_on(model, image, manifest.min_score), manifest.int8.selftest
        runs = "this LiteRT runs it differently"
    else:
        found, expected = faces_on(model, image, manifest.min_score), manifest.selftest
        runs = "this OpenCV runs it differently"
    expected = np.asarray(expected, np.float64)
    if (len(found) != len(expected)
            or np.abs(found[:, :4] - expected[:, :4]).max(initial=0) > SELFTEST_PX
            or np.abs(found[:, 4] - expected[:, 4]).max(initial=0) > SELFTEST_SCORE):
        fix = "--detect-runtime litert" if int8 else "--detector yunet"
        raise ModelMismatchError(f"the detector {model} finds {len(found)} face(s) on its self-test photo where it "
                                 f"found {len(expected)} at export: {runs} or the bundle is not the one exported — "
                                 f"copy the bundle again, or use {fix}")


def write(manifest: DetectorManifest, folder: Path) -> Path:
    path = Path(folder) / MANIFEST_NAME
    path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return path
