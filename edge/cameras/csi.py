"""Raspberry Pi CSI cameras through picamera2 (from Raspberry Pi OS's apt, not PyPI).

Two streams: ``main`` at full resolution for snapshots and a ``lores`` stream at the
inference size, which the ISP scales for free. Channel order is explicit: picamera2's
"RGB888" is laid out B, G, R in memory (OpenCV's order) and "YUV420" is planar I420.
"""

import cv2

from ..errors import CameraError
from .base import Camera, Frame, source

MAIN_SIZE = (1280, 960)


@source("csi", "csi", order=0)
def open_csi(spec: str, width: int | None, height: int | None, fps: float | None) -> "CsiCamera | None":
    return CsiCamera(width or 640, height or 480, fps) if spec == "csi" else None


class CsiCamera(Camera):
    def __init__(self, width: int, height: int, fps: float | None = None, picamera2_class=None):
        if picamera2_class is None:
            try:
                from picamera2 import Picamera2 as picamera2_class
            except ImportError:
                raise CameraError(
                    "picamera2 is not available — on Raspberry Pi OS: sudo apt install python3-picamera2, "
                    "and create the venv with --system-site-packages"
                ) from None
        try:
            self._camera = picamera2_class()
        except (RuntimeError, IndexError) as exc:
            raise CameraError(f"no CSI camera found ({exc}) — check the ribbon cable and "
                              "`rpicam-hello --list-cameras`") from exc
        controls = {"FrameRate": fps} if fps else {}
        config = self._camera.create_video_configuration(
            main={"size": MAIN_SIZE, "format": "RGB888"},
            lores={"size": (width, height), "format": "YUV420"},
            controls=controls,
        )
        self._camera.configure(config)
        self._camera.start()

    def read(self) -> Frame:
        yuv = self._camera.capture_array("lores")
        return Frame(cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420), "csi")

    def snapshot(self):
        """The full-resolution main stream as BGR (its "RGB888" already is BGR in memory)."""
        return self._camera.capture_array("main")

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()
