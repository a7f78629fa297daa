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

from ..crops import box_centres
from ..errors import ModelFileError
from .base import DETECTORS, NO_EYES, NO_FACES, NO_TURN, FaceDetector

FRONTAL = "haarcascade_frontalface_default.xml"
EYE = "haarcascade_eye.xml"


@dataclass(frozen=True)
class HaarConfig:
    setup: str = "eyes"  # "eyes": mask-fair; "frontal": OpenCV's face cascade, for comparison
    min_face: int = 40  # px on the downscaled frame, for the frontal cascade


# How eyes of one face lie (pair_eyes): sizes within 1.5x, centres level within half an eye
# size and 1.2 to 3.5 eye sizes apart; the face is 2.5 eye distances wide.
SIZE_RATIO, LEVEL, SPACING, FACE_PER_DISTANCE = 1.5, 0.5, (1.2, 3.5), 2.5


def pair_eyes(eyes: np.ndarray) -> np.ndarray:
    """Face boxes ``(x, y, w, h)`` from eye boxes that can be a left and right eye of one face.

    Two eyes pair when they lie as a face's eyes do (the constants above). The face box is as
    high as wide, with the eyes 40% of the way down, as in the frontal cascade's own boxes.
    """
    eyes = np.asarray(eyes, dtype=np.float64).reshape(-1, 4)
    centres = box_centres(eyes)
    sizes = eyes[:, 2]
    faces = []
    for i in range(len(eyes)):
        for j in range(len(eyes)):
            if centres[i, 0] >= centres[j, 0]:
                continue
            size = (sizes[i] + sizes[j]) / 2
            distance = centres[j, 0] - centres[i, 0]
            if (max(sizes[i], sizes[j]) / min(sizes[i], sizes[j]) <= SIZE_RATIO
                    and abs(centres[j, 1] - centres[i, 1]) <= LEVEL * size
                    and SPACING[0] * size <= distance <= SPACING[1] * size):
                middle = (centres[i] + centres[j]) / 2
                width = FACE_PER_DISTANCE * distance
                faces.append([middle[0] - width / 2, middle[1] - 0.4 * width, width, width])
    return np.asarray(faces, dtype=np.float64).reshape(-1, 4)


def eye_sizes(smallest_face: float, largest_face: float) -> tuple[int, int]:
    """The eye sizes that ``pair_eyes`` can turn into faces between these widths."""
    return (int(smallest_face / (FACE_PER_DISTANCE * SPACING[1])),
            int(np.ceil(largest_face / (FACE_PER_DISTANCE * SPACING[0]))))


def _cascade(filename: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + filename)
    if cascade.empty():
        raise ModelFileError(f"OpenCV's {filename} is missing — reinstall opencv-python-headless>=4.9,<5")
    return cascade


@DETECTORS.register("haar")
class HaarDetector(FaceDetector):
    name = "haar"
    summary = "Haar eye pairs, needs no file, fair to masks but finds about half the faces"
    # Every k-th frame lost one of Haar's 36 people in 60 clips (k = 3 with the gate, k = 4 with or
    # without it), the regions another; the gate alone lost none.
    preset = {"detect_every": 1, "motion_gate": True, "motion_regions": False}
    auto_rank = 2  # needs no file: what auto falls back to

    @classmethod
    def from_dir(cls, model_dir, max_side: int, **score) -> "HaarDetector":
        return cls(max_side=max_side, **score)

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

    def _detect(self, gray: np.ndarray, face_widths: tuple[float, float] | None = None) -> np.ndarray:
        # Sizes beyond the expected faces are skipped: OpenCV's scale loop steps its window 1 px at
        # a time past twice the cascade's size, so the large sizes cost most of a search. A size of
        # (0, 0) is OpenCV's "no limit".
        if self.config.setup == "frontal":
            smallest, largest = (0, 0) if face_widths is None else face_widths
            side = max(self.config.min_face, int(smallest))
            boxes = np.asarray(self._cascade.detectMultiScale(
                gray, 1.1, 5, minSize=(side, side), maxSize=(int(np.ceil(largest)),) * 2), np.float64)
        else:
            # The eye cascade's own 20-px window is the smallest eye it finds (faces of about 100 px).
            smallest, largest = (0, 0) if face_widths is None else eye_sizes(*face_widths)
            eyes = self._cascade.detectMultiScale(gray, 1.1, 3, minSize=(smallest, smallest),
                                                  maxSize=(largest, largest))
            boxes = pair_eyes(eyes)
            if len(boxes):
                # Several eye pairs (eyebrows, glasses) land on one face: merge them into one box.
                merged, _ = cv2.groupRectangles(boxes.round().astype(int).tolist() * 2, groupThreshold=1, eps=0.3)
                boxes = np.asarray(merged, dtype=np.float64)
        boxes = boxes.reshape(-1, 4)
        if not len(boxes):
            return NO_FACES
        return np.hstack([boxes, np.ones((len(boxes), 1)), np.full((len(boxes), 1), NO_TURN),
                          np.full((len(boxes), 1), NO_EYES)])
