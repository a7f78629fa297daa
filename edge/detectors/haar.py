"""OpenCV Haar cascades: no model file, runs anywhere, the fallback when YuNet is not fetched.

OpenCV's frontal face cascade keys on nose and mouth, so a mask hides what it looks for: on
../shared it finds a face in 19% of masked against 40% of unmasked pictures, which would
bias every compliance count. The ``eyes`` setup (the default) looks for what a mask leaves
visible instead: pairs of eyes, from OpenCV's eye cascade, turned into face boxes by face
proportions. It finds 42% of masked against 51% of unmasked pictures (0.83 as often, against
0.49), though far fewer faces than YuNet (91% / 100%), which ``auto`` prefers whenever its
file is present.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ModelFileError
from .base import NO_FACES, FaceDetector

FRONTAL = "haarcascade_frontalface_default.xml"
EYE = "haarcascade_eye.xml"


@dataclass(frozen=True)
class HaarConfig:
    setup: str = "eyes"  # "eyes": mask-fair; "frontal": OpenCV's face cascade, for comparison
    min_face: int = 40  # px on the downscaled frame, for the frontal cascade


def pair_eyes(eyes: np.ndarray) -> np.ndarray:
    """Face boxes ``(x, y, w, h)`` from eye boxes that can be a left and right eye of one face.

    Two eyes pair when their sizes differ by at most 1.5x, they sit level (centres within
    half an eye size vertically) and 1.2 to 3.5 eye sizes apart. The face is 2.5 eye
    distances wide and as high, with the eyes 40% of the way down, as in the frontal
    cascade's own boxes.
    """
    eyes = np.asarray(eyes, dtype=np.float64).reshape(-1, 4)
    centres = eyes[:, :2] + eyes[:, 2:] / 2
    sizes = eyes[:, 2]
    faces = []
    for i in range(len(eyes)):
        for j in range(len(eyes)):
            if centres[i, 0] >= centres[j, 0]:
                continue
            size = (sizes[i] + sizes[j]) / 2
            distance = centres[j, 0] - centres[i, 0]
            if (max(sizes[i], sizes[j]) / min(sizes[i], sizes[j]) <= 1.5
                    and abs(centres[j, 1] - centres[i, 1]) <= 0.5 * size
                    and 1.2 * size <= distance <= 3.5 * size):
                middle = (centres[i] + centres[j]) / 2
                width = 2.5 * distance
                faces.append([middle[0] - width / 2, middle[1] - 0.4 * width, width, width])
    return np.asarray(faces, dtype=np.float64).reshape(-1, 4)


def _cascade(filename: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + filename)
    if cascade.empty():
        raise ModelFileError(f"OpenCV's {filename} is missing — reinstall opencv-python-headless>=4.9,<5")
    return cascade


class HaarDetector(FaceDetector):
    name = "haar"

    def __init__(self, config: HaarConfig = HaarConfig(), max_side: int = 640, min_score=0.0):
        super().__init__(max_side, min_score)
        if config.setup not in ("eyes", "frontal"):
            raise ValueError(f"unknown haar setup {config.setup!r}; choose eyes or frontal")
        self.config = config
        self._cascade = _cascade(EYE if config.setup == "eyes" else FRONTAL)
        # Local, not global, contrast: with a whole-frame equalisation one face on a busy
        # background lost its eyes, while two or three faces on the same background did not.
        self._contrast = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return self._contrast.apply(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY))

    def _detect(self, gray: np.ndarray) -> np.ndarray:
        if self.config.setup == "frontal":
            side = self.config.min_face
            boxes = np.asarray(self._cascade.detectMultiScale(gray, 1.1, 5, minSize=(side, side)), np.float64)
        else:
            # The eye cascade's own 20-px window is the smallest eye it finds (faces of about 100 px).
            eyes = self._cascade.detectMultiScale(gray, 1.1, 3)
            boxes = pair_eyes(eyes)
            if len(boxes):
                # Several eye pairs (eyebrows, glasses) land on one face: merge them into one box.
                merged, _ = cv2.groupRectangles(boxes.round().astype(int).tolist() * 2, groupThreshold=1, eps=0.3)
                boxes = np.asarray(merged, dtype=np.float64)
        boxes = boxes.reshape(-1, 4)
        if not len(boxes):
            return NO_FACES
        return np.hstack([boxes, np.ones((len(boxes), 1))])
