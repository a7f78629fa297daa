"""Live sources through OpenCV: USB/V4L2 cameras and rtsp:// or http:// streams.

A capture thread keeps only the newest frame, so a slow frame loop never works through a
backlog of stale frames. A lost source is reopened with growing pauses; the frame loop
decides when too long without frames means giving up.
"""

import logging
import re
import threading
from pathlib import Path

import cv2

from ..errors import CameraError
from .base import Camera, Frame, source

log = logging.getLogger(__name__)


@source("usb", "usb, usb:N, /dev/videoN", order=1)
def open_usb(spec: str, width: int | None, height: int | None, fps: float | None) -> "LiveCamera | None":
    usb = re.fullmatch(r"usb(?::(\d+))?|/dev/video(\d+)", spec)
    if usb is None:
        return None
    index = int(usb.group(1) or usb.group(2) or 0)
    return LiveCamera(index, f"/dev/video{index}", width, height, fps)


@source("stream", "rtsp://..., http://...", order=2)
def open_stream(spec: str, width: int | None, height: int | None, fps: float | None) -> "LiveCamera | None":
    return LiveCamera(spec, spec, width, height, fps) if re.match(r"(rtsp|rtsps|http|https)://", spec) else None


def _devices_hint(asked: str) -> str:
    """What to try instead of a video device that did not open: the ones this machine has."""
    others = sorted((str(p) for p in Path("/dev").glob("video*") if str(p) != asked),
                    key=lambda p: int(re.sub(r"\D", "", p) or 0))
    if not others:
        return " — is it plugged in? this machine has no /dev/video* device"
    return f" — is it plugged in? this machine has {', '.join(others)} (--camera /dev/videoN)"


class LiveCamera(Camera):
    def __init__(self, target, name: str, width: int | None = None, height: int | None = None,
                 fps: float | None = None, max_backoff_s: float = 8.0):
        self.target, self.name = target, name
        self._settings = {cv2.CAP_PROP_FRAME_WIDTH: width, cv2.CAP_PROP_FRAME_HEIGHT: height,
                          cv2.CAP_PROP_FPS: fps}
        self._max_backoff = max_backoff_s
        self._capture = self._open()
        if self._capture is None:
            raise CameraError(f"no camera at {name}{_devices_hint(name) if isinstance(target, int) else ''}")
        self._frame, self._sequence, self._delivered = None, 0, 0
        self._condition = threading.Condition()
        self._stopping = threading.Event()
        self.reconnects = 0
        self._thread = threading.Thread(target=self._loop, name=f"capture {name}", daemon=True)
        self._thread.start()

    def _open(self):
        capture = cv2.VideoCapture(self.target)
        if not capture.isOpened():
            capture.release()
            return None
        for prop, value in self._settings.items():
            if value:
                capture.set(prop, value)
        return capture

    def _loop(self):
        backoff = 0.5
        while not self._stopping.is_set():
            ok, image = self._capture.read() if self._capture is not None else (False, None)
            if ok:
                backoff = 0.5
                with self._condition:
                    self._frame, self._sequence = image, self._sequence + 1
                    self._condition.notify_all()
                continue
            log.warning("camera %s lost; reopening in %.1f s", self.name, backoff)
            if self._capture is not None:
                self._capture.release()
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self._max_backoff)
            self._capture = self._open()
            self.reconnects += 1

    def read(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not yet delivered; an empty frame (image None) when none came in time."""
        with self._condition:
            self._condition.wait_for(lambda: self._sequence > self._delivered, timeout)
            if self._sequence == self._delivered:
                return Frame(None, self.name)
            self._delivered = self._sequence
            return Frame(self._frame, self.name)

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        if self._capture is not None:
            self._capture.release()
