"""YuNet (OpenCV model zoo): small, fast, finds masked faces; on LiteRT from its TFLite twin, else OpenCV.

Its 230 KB ONNX ships inside the package (``edge/models/detectors/yunet``, MIT, with its licence) with its twin
(``edge.detectors.yunet_litert``), so a fresh install detects with it offline; a YuNet file in the detector folder
(``edge-models fetch``) is used instead, through ``cv2.FaceDetectorYN`` unless a twin lies beside it or it is the
packaged file again.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BackendUnavailableError, ModelFileError, ModelMismatchError
from ..manifest import sha256_of
from . import yunet_litert
from .base import DETECTORS, NO_FACES, FaceDetector, ModelFile, turn
from .bundle import SELFTEST_PX, SELFTEST_SCORE, selftest_image

MODEL_GLOB = "face_detection_yunet_*.onnx"
PACKAGED = Path(__file__).parents[1] / "models" / "detectors" / "yunet"
FILES = (
    ModelFile("face_detection_yunet_2026may.onnx",
              "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
              "face_detection_yunet_2026may.onnx",
              "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"),
)


@dataclass(frozen=True)
class YunetConfig:
    model_dir: Path = Path(".")
    nms_threshold: float = 0.3


def find_model(model_dir: Path) -> Path | None:
    """The newest YuNet file in ``model_dir`` (file names carry the release date)."""
    candidates = sorted(Path(model_dir).glob(MODEL_GLOB)) if Path(model_dir).is_dir() else []
    return candidates[-1] if candidates else None


def model_for(model_dir: Path) -> Path | None:
    """The YuNet file to load: the detector folder's, else the packaged one."""
    return find_model(model_dir) or find_model(PACKAGED)


class _Opencv:
    """``cv2.FaceDetectorYN``, told each new frame size (what LitertYunet does for itself)."""

    def __init__(self, model: Path, min_score: float, nms_threshold: float):
        self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), min_score, nms_threshold, 5000)
        self._size = (320, 320)

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray | None:
        height, width = frame_bgr.shape[:2]
        if (width, height) != self._size:
            self._net.setInputSize((width, height))
            self._size = (width, height)
        return self._net.detect(frame_bgr)[1]


def _litert(twin: Path, min_score: float, nms_threshold: float, redo: str) -> yunet_litert.LitertYunet:
    try:
        return yunet_litert.LitertYunet(twin, min_score, nms_threshold)
    except (ValueError, RuntimeError) as exc:
        raise ModelMismatchError(f"the YuNet twin {twin} cannot be read by LiteRT ({exc}) — {redo}") from None


def _runner(model: Path, min_score: float, nms_threshold: float, runtime: str = "auto",
            int8: Path | None = None) -> tuple[object, str]:
    """(what detects, its runtime's name) for ``runtime``. ``auto``: the float twin on LiteRT after it finds the
    ONNX's own faces on the self-test photo (the same faces in about half the time), else OpenCV on the ONNX.
    ``litert-int8``: a bundle's int8 twin (``int8``, already checked), by name only: a third faster again, but it
    counts fewer people right at the door (docs/detector.md)."""
    if runtime in ("litert-int8", "litert") and not yunet_litert.available():
        raise BackendUnavailableError(f"--detect-runtime {runtime} needs LiteRT: pip install ai-edge-litert, or "
                                      "use --detect-runtime opencv")
    if runtime == "litert-int8" and int8 is None:
        raise ModelFileError(f"{model.parent} holds no int8 twin of {model.name} — use --detect-runtime litert, "
                             "or a detector bundle exported with one (python -m train.detector_bundle)")
    if runtime == "litert-int8":
        return _litert(int8, min_score, nms_threshold, "copy the bundle again"), "litert-int8"
    opencv = _Opencv(model, min_score, nms_threshold)
    twin = yunet_litert.twin_of(model)
    packaged = PACKAGED / model.name
    if twin is None and packaged.is_file() and sha256_of(model) == sha256_of(packaged):
        twin = yunet_litert.twin_of(packaged)  # the packaged model, fetched again: its packaged twin
    redo = f"delete it to detect with OpenCV, or write it again (python -m train.yunet_keras --tflite {model})"
    if runtime == "litert" and twin is None:
        raise ModelFileError(f"no TFLite twin beside {model} — write one (python -m train.yunet_keras --tflite "
                             f"{model}) or use --detect-runtime opencv")
    if runtime == "opencv" or twin is None or not yunet_litert.available():
        return opencv, "opencv"
    litert = _litert(twin, min_score, nms_threshold, redo)
    image = selftest_image(640)
    expected, found = (np.zeros((0, 15)) if f is None else f for f in (opencv.detect(image), litert.detect(image)))
    if (len(found) != len(expected) or np.abs(found[:, :4] - expected[:, :4]).max(initial=0) > SELFTEST_PX
            or np.abs(found[:, 14] - expected[:, 14]).max(initial=0) > SELFTEST_SCORE):
        raise ModelMismatchError(f"the YuNet twin {twin} finds {len(found)} face(s) on the self-test photo where "
                                 f"{model.name} finds {len(expected)}: it was written from another model — {redo}")
    return litert, "litert"


@DETECTORS.register("yunet")
class YunetDetector(FaceDetector):
    name = "yunet"
    summary = "YuNet (OpenCV model zoo), finds 9 faces in 10, masked ones less often than bare ones"
    # 99.5% of the real faces in walk-up clips of scenes-ilc's training photos reached it on their best frame
    # (python -m train.walkthrough --photos training --tracker face_score=0; docs/notes/2026-12-05-benchmark-record.md).
    face_score = 0.66
    # Every 3rd frame with the motion gate and regions counted what every frame counts (make walkthrough).
    preset = {"detect_every": 3, "motion_gate": True, "motion_regions": True}
    files = FILES
    packaged = PACKAGED
    auto_rank = 1
    runtimes = ("litert", "opencv")

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        return model_for(model_dir) is not None

    @classmethod
    def from_dir(cls, model_dir: Path, max_side: int, runtime: str = "auto", **score) -> "YunetDetector":
        return cls(YunetConfig(model_dir=model_dir), max_side=max_side, runtime=runtime, **score)

    def __init__(self, config: YunetConfig = YunetConfig(), max_side: int = 640, min_score=0.6,
                 model: Path | None = None, runtime: str = "auto", int8: Path | None = None):
        super().__init__(max_side, min_score)
        self.config = config
        model = model or model_for(Path(config.model_dir))
        if model is None:
            raise ModelFileError(
                f"no YuNet model ({MODEL_GLOB}) in {config.model_dir} nor in the package — reinstall the package, "
                "run `edge-models fetch` or use --detector haar"
            )
        self._net, self.runtime = _runner(model, min_score, config.nms_threshold, runtime, int8)

    def _detect(self, frame_bgr: np.ndarray, face_widths=None) -> np.ndarray:
        faces = self._net.detect(frame_bgr)
        if faces is None:
            return NO_FACES
        # faces[:, 4:14]: right eye, left eye, nose tip, mouth corners (x, y each)
        return np.column_stack([faces[:, :4], faces[:, 14], turn(faces[:, 4:8], faces[:, 8:10]),
                                (faces[:, 5] + faces[:, 7]) / 2]).astype(np.float64)
