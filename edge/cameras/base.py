"""The Camera interface: frames in order until the source ends."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    source: str  # the image file name for image folders, else the source itself
    independent: bool = False  # True when nothing may carry over from the previous frame


class Camera(ABC):
    skipped = 0  # frames a finite source could not decode and went past

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None once a finite source is exhausted."""

    def nothing_read(self, name: str) -> Exception:
        """The error for a source that ended without one readable frame."""
        from ..errors import CameraError

        damaged = f" ({self.skipped} could not be decoded)" if self.skipped else ""
        return CameraError(f"{name} gave no readable frame{damaged} — check the file, folder or camera")

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release the device or file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
