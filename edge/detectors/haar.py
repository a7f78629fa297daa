"""OpenCV Haar cascades: no model file, runs anywhere, the embedded default.

The frontal cascade keys on nose and mouth, so it misses many masked faces. The ``masked``
setup adds the ``alt2`` cascade at a lower neighbour count; it finds more faces but is still
far from mask-fair (measured on ../shared: 25% of masked against 69% of unmasked images),
so ``auto`` prefers YuNet whenever its file is present.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ModelFileError
from .base import NO_FACES, FaceDetector

SETUPS = {
    "default": (("haarcascade_frontalface_default.xml", 5),),
    "masked": (("haarcascade_frontalface_alt2.xml", 2), ("haarcascade_frontalface_default.xml", 5)),
}


@dataclass(frozen=True)
class HaarConfig:
    setup: str = "masked"
    min_face: int = 40  # px on the downscaled frame


class HaarDetector(FaceDetector):
    name = "haar"

    def __init__(self, config: HaarConfig = HaarConfig(), max_side: int = 640, min_score=0.0):
        super().__init__(max_side, min_score)
        if config.setup not in SETUPS:
            raise ValueError(f"unknown haar setup {config.setup!r}; choose one of {sorted(SETUPS)}")
        self.config = config
        self._cascades = []
        for filename, min_neighbors in SETUPS[config.setup]:
            cascade = cv2.CascadeClassifier(cv2.data.haarcascades + filename)
            if cascade.empty():
                raise ModelFileError(
                    f"OpenCV's {filename} is missing — reinstall opencv-python-headless>=4.9,<5"
                )
            self._cascades.append((cascade, min_neighbors))

    def _detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        gray = cv2.equalizeHist(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY))
        found = []
        for cascade, min_neighbors in self._cascades:
            boxes = cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=min_neighbors,
                minSize=(self.config.min_face, self.config.min_face),
            )
            found.extend(np.asarray(boxes).reshape(-1, 4).tolist())
        if not found:
            return NO_FACES
        # Both cascades fire on the same face: merge overlapping boxes into one.
        merged, _ = cv2.groupRectangles(found + found, groupThreshold=1, eps=0.3)
        boxes = np.asarray(merged, dtype=np.float64).reshape(-1, 4)
        return np.hstack([boxes, np.ones((len(boxes), 1))])
