"""Has anything moved since the detector last looked? A frame difference on a thumbnail."""

import cv2
import numpy as np

THUMBNAIL = (80, 60)  # averaging down to this hides sensor noise and costs about 0.1 ms
LEVEL = 12  # grey levels a thumbnail pixel must change by to count as moved


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    small = cv2.resize(image_bgr, THUMBNAIL, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.int16)


def changed_share(before: np.ndarray, after: np.ndarray) -> float:
    """Share of thumbnail pixels whose brightness changed by more than LEVEL."""
    return float(np.mean(np.abs(after - before) > LEVEL))


class MotionGate:
    """Compares each frame with the last one the detector ran on, not with the previous frame,
    so someone creeping in slowly still opens the gate once the change adds up."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._reference: np.ndarray | None = None

    def moved(self, image_bgr: np.ndarray) -> bool:
        return self._reference is None or changed_share(self._reference, thumbnail(image_bgr)) >= self.threshold

    def looked_at(self, image_bgr: np.ndarray) -> None:
        self._reference = thumbnail(image_bgr)
