"""OpenCV's res10 SSD face detector (300x300), from the Caffe files or the uint8 TF encoding."""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelFileError
from .base import DETECTORS, NO_EYES, NO_FACES, NO_TURN, FaceDetector, ModelFile

CAFFE_FILES = ("res10_300x300_ssd_iter_140000.caffemodel", "deploy.prototxt")
TENSORFLOW_FILES = ("opencv_face_detector_uint8.pb", "opencv_face_detector.pbtxt")
_SAMPLES = "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/dnn/face_detector/"
_3RDPARTY = "https://raw.githubusercontent.com/opencv/opencv_3rdparty/"
FILES = (
    ModelFile("res10_300x300_ssd_iter_140000.caffemodel",
              _3RDPARTY + "dnn_samples_face_detector_20170830/res10_300x300_ssd_iter_140000.caffemodel",
              "2a56a11a57a4a295956b0660b4a3d76bbdca2206c4961cea8efe7d95c7cb2f2d"),
    ModelFile("deploy.prototxt", _SAMPLES + "deploy.prototxt",
              "f62621cac923d6f37bd669298c428bb7ee72233b5f8c3389bb893e35ebbcf795"),
    ModelFile("opencv_face_detector_uint8.pb",
              _3RDPARTY + "dnn_samples_face_detector_20180220_uint8/opencv_face_detector_uint8.pb",
              "5c71d752ef2cbf2f457ac82fdd580fcb2522fd04c5efdaed18eb6d9e2843fbed"),
    ModelFile("opencv_face_detector.pbtxt", _SAMPLES + "opencv_face_detector.pbtxt",
              "5397808362fc6fb7c4044484848e297b22449d913a267fa7f8bd9d86dce29144"),
)


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


@DETECTORS.register("ssd")
class SsdDetector(FaceDetector):
    name = "ssd"
    summary = "OpenCV's ResNet-10 SSD, no graded score and no landmarks"
    # It resizes any input to 300x300, so searching less of the frame saves it nothing; not measured with the
    # fast path, it detects on every frame (the base's preset).
    files = FILES

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        return any(all((Path(model_dir) / name).is_file() for name in pair) for pair in (CAFFE_FILES, TENSORFLOW_FILES))

    @classmethod
    def from_dir(cls, model_dir: Path, max_side: int, **score) -> "SsdDetector":
        return cls(SsdConfig(model_dir=model_dir), max_side=max_side, **score)

    def __init__(self, config: SsdConfig = SsdConfig(), max_side: int = 640, min_score=0.5):
        super().__init__(max_side, min_score)
        self.config = config
        self._net = _load_net(Path(config.model_dir))

    def _detect(self, frame_bgr: np.ndarray, face_widths=None) -> np.ndarray:
        height, width = frame_bgr.shape[:2]
        size = self.config.input_size
        blob = cv2.dnn.blobFromImage(frame_bgr, 1.0, (size, size), (104.0, 177.0, 123.0))
        self._net.setInput(blob)
        rows = self._net.forward().reshape(-1, 7)
        rows = rows[rows[:, 2] >= self.min_score]
        if len(rows) == 0:
            return NO_FACES
        corners = np.clip(rows[:, 3:7], 0.0, 1.0) * [width, height, width, height]
        boxes = np.column_stack([corners[:, :2], corners[:, 2:] - corners[:, :2], rows[:, 2],
                                 np.full(len(rows), NO_TURN), np.full(len(rows), NO_EYES)])
        return boxes[(boxes[:, 2] > 1) & (boxes[:, 3] > 1)].astype(np.float64)
