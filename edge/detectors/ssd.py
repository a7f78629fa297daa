"""OpenCV's res10 SSD face detector (300x300), from the Caffe files or the uint8 TF encoding."""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelFileError
from .base import NO_FACES, FaceDetector

CAFFE_FILES = ("res10_300x300_ssd_iter_140000.caffemodel", "deploy.prototxt")
TENSORFLOW_FILES = ("opencv_face_detector_uint8.pb", "opencv_face_detector.pbtxt")


@dataclass(frozen=True)
class SsdConfig:
    model_dir: Path = Path(".")
    input_size: int = 300


def _load_net(model_dir: Path):
    for weights, graph in (CAFFE_FILES, TENSORFLOW_FILES):
        if (model_dir / weights).is_file() and (model_dir / graph).is_file():
            if weights.endswith(".caffemodel"):
                return cv2.dnn.readNetFromCaffe(str(model_dir / graph), str(model_dir / weights))
            return cv2.dnn.readNetFromTensorflow(str(model_dir / weights), str(model_dir / graph))
    raise ModelFileError(
        f"no SSD face detector files in {model_dir} (need {' + '.join(CAFFE_FILES)} or "
        f"{' + '.join(TENSORFLOW_FILES)}) — run `edge-models fetch` or use --detector haar"
    )


class SsdDetector(FaceDetector):
    name = "ssd"

    def __init__(self, config: SsdConfig = SsdConfig(), max_side: int = 640, min_score=0.5):
        super().__init__(max_side, min_score)
        self.config = config
        self._net = _load_net(Path(config.model_dir))

    def _detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        size = self.config.input_size
        blob = cv2.dnn.blobFromImage(frame_bgr, 1.0, (size, size), (104.0, 177.0, 123.0))
        self._net.setInput(blob)
        rows = self._net.forward().reshape(-1, 7)
        rows = rows[rows[:, 2] >= self.min_score]
        if len(rows) == 0:
            return NO_FACES
        corners = np.clip(rows[:, 3:7], 0.0, 1.0) * [width, height, width, height]
        boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2], rows[:, 2]])
        return boxes[(boxes[:, 2] > 1) & (boxes[:, 3] > 1)].astype(np.float64)
