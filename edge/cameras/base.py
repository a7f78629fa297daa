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
    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame; None once a finite source is exhausted."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release the device or file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
