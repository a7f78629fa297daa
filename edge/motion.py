"""What has moved since the detector last looked? A frame difference on a thumbnail."""

import cv2
import numpy as np

THUMBNAIL = (80, 60)  # averaging down to this hides sensor noise and costs about 0.1 ms
LEVEL = 12  # grey levels a thumbnail pixel must change by to count as moved


def thumbnail(image_bgr: np.ndarray) -> np.ndarray:
    small = cv2.resize(image_bgr, THUMBNAIL, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.int16)


def changed_cells(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Thumbnail pixels whose brightness changed by more than LEVEL."""
    return np.abs(after - before) > LEVEL


def changed_boxes(changed: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes ``(x, y, w, h)`` in frame pixels around each patch of changed cells.

    The cells are dilated first: a moving face changes mostly along its outline, and the
    gaps between those cells must not split one face into several boxes.
    """
    grown = cv2.dilate(changed.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    cell_w, cell_h = width / changed.shape[1], height / changed.shape[0]
    boxes = stats[1:count, :4].astype(np.float64)  # row 0 is the unchanged background
    return boxes * [cell_w, cell_h, cell_w, cell_h]


class MotionGate:
    """Compares each frame with the last one the detector ran on, not with the previous frame,
    so someone creeping in slowly still opens the gate once the change adds up."""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._reference: np.ndarray | None = None

    def changes(self, small: np.ndarray) -> np.ndarray | None:
        """Changed cells of ``small`` (a thumbnail) since the detector last looked; None before it first did."""
        return None if self._reference is None else changed_cells(self._reference, small)

    def moved(self, changed: np.ndarray | None) -> bool:
        """Whether ``changes`` found enough changed cells to be worth a detection."""
        return changed is None or float(changed.mean()) >= self.threshold

    def looked_at(self, small: np.ndarray) -> None:
        self._reference = small
