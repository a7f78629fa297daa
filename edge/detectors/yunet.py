"""YuNet (OpenCV model zoo) through ``cv2.FaceDetectorYN``: small, fast, finds masked faces.

Its 230 KB ONNX ships inside the package (``edge/models/detectors/yunet``, MIT, with its licence), so a fresh
install detects with it offline; a YuNet file in the detector folder (``edge-models fetch``) is used instead.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelFileError
from .base import DETECTORS, NO_FACES, FaceDetector, ModelFile, turn

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
    auto_rank = 0

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        return model_for(model_dir) is not None

    @classmethod
    def from_dir(cls, model_dir: Path, max_side: int, **score) -> "YunetDetector":
        return cls(YunetConfig(model_dir=model_dir), max_side=max_side, **score)

    def __init__(self, config: YunetConfig = YunetConfig(), max_side: int = 640, min_score=0.6,
                 model: Path | None = None):
        super().__init__(max_side, min_score)
        self.config = config
        model = model or model_for(Path(config.model_dir))
        if model is None:
            raise ModelFileError(
                f"no YuNet model ({MODEL_GLOB}) in {config.model_dir} nor in the package — reinstall the package, "
                "run `edge-models fetch` or use --detector haar"
            )
        self._net = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), min_score, config.nms_threshold, 5000
        )
        self._input_size = (320, 320)

    def _detect(self, frame_bgr: np.ndarray, face_widths=None) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        if (width, height) != self._input_size:
            self._net.setInputSize((width, height))
            self._input_size = (width, height)
        _, faces = self._net.detect(frame_bgr)
        if faces is None:
            return NO_FACES
        # faces[:, 4:14]: right eye, left eye, nose tip, mouth corners (x, y each)
        return np.column_stack([faces[:, :4], faces[:, 14], turn(faces[:, 4:8], faces[:, 8:10])]).astype(np.float64)
