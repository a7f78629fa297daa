"""The FaceDetector interface: a frame in, face boxes out, in the frame's own pixels."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..crops import downscale_for_detection, scale_boxes

NO_FACES = np.zeros((0, 5), dtype=np.float64)


@dataclass(frozen=True)
class ModelFile:
    """A detector file that ``edge-models fetch`` downloads and checks."""

    name: str
    url: str
    sha256: str


class FaceDetector(ABC):
    """Finds faces on a BGR frame.

    Detection runs on a copy shrunk so its longer side is at most ``max_side``, because
    detection cost grows with pixel count and faces at a doorway are large; boxes are
    mapped back to the original frame.
    """

    name: str = ""

    def __init__(self, max_side: int = 640, min_score: float = 0.5):
        self.max_side = max_side
        self.min_score = min_score

    def detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Faces as rows ``(x, y, w, h, score)`` in pixels of ``frame_bgr``."""
        small, factor = downscale_for_detection(frame_bgr, self.max_side)
        faces = self._detect(small)
        if len(faces) == 0:
            return NO_FACES
        faces = faces[faces[:, 4] >= self.min_score]
        faces[:, :4] = scale_boxes(faces[:, :4], factor)
        return faces

    @abstractmethod
    def _detect(self, frame_bgr: np.ndarray) -> np.ndarray:
        """Rows ``(x, y, w, h, score)`` on the (already downscaled) frame."""
