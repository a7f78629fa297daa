"""The Camera interface: frames in order until the source ends."""

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..registry import Registry

# Every source file registers an opener (``@source(name, forms, order)``): ``open(spec, width, height, fps)``
# gives a Camera, or None when ``spec`` is not of its forms. The first by order that takes a spec opens it.
CAMERAS = Registry("camera", "edge.cameras")


def source(name: str, forms: str, order: int):
    """Register an opener of ``--camera`` values written as ``forms`` (words for the error that lists them)."""
    def add(opener):
        opener.forms = forms
        return CAMERAS.register(name, order)(opener)

    return add


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    source: str  # the image file name for image folders, else the source itself
    independent: bool = False  # True when nothing may carry over from the previous frame


class Camera(ABC):
    skipped = 0  # frames a finite source could not decode and went past
    reconnects = 0  # times a live source was lost and opened again

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


class Paced(Camera):
    """A finite source played at ``fps``, as a live camera would deliver it: for a demo, or replayed
    footage watched in the live view. Late frames are not dropped: every frame of the file is counted."""

    def __init__(self, camera: Camera, fps: float, clock=time.monotonic, sleep=time.sleep):
        self.camera, self.interval, self.clock, self.sleep = camera, 1.0 / fps, clock, sleep
        self._due: float | None = None

    @property
    def skipped(self) -> int:
        return self.camera.skipped

    def read(self) -> Frame | None:
        now = self.clock()
        if self._due is not None and now < self._due:
            self.sleep(self._due - now)
        self._due = max(now, self._due or now) + self.interval
        return self.camera.read()

    def nothing_read(self, name: str) -> Exception:
        return self.camera.nothing_read(name)

    def close(self) -> None:
        self.camera.close()
