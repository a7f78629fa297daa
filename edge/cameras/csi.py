"""Raspberry Pi CSI cameras through picamera2 (from Raspberry Pi OS's apt, not PyPI).

Two streams: ``main`` at full resolution for snapshots and a ``lores`` stream at the
inference size, which the ISP scales for free. Channel order is explicit: picamera2's
"RGB888" is laid out B, G, R in memory (OpenCV's order) and "YUV420" is planar I420.
"""

import contextlib
import io
import logging
from pathlib import Path

import cv2

from ..errors import CameraError
from .base import Camera, Frame, source

MAIN_SIZE = (1280, 960)
log = logging.getLogger("edge-run")
# What a C extension built against another numpy says on import (numpy 2 also prints a banner of its own first).
NUMPY_ABI = ("numpy.dtype size changed", "compiled using NumPy", "multiarray failed to import", "_ARRAY_API",
             "numpy.core._multiarray_umath")


def apt_numpy() -> str:
    """ `` 1.24.2``: the version of the numpy apt installed, when there is one."""
    found = sorted(Path("/usr/lib/python3/dist-packages").glob("numpy-*-info"))
    return f" {found[-1].name.split('-')[1].removesuffix('.egg').removesuffix('.dist')}" if found else ""


def import_picamera2():
    """picamera2's class, or one line saying why not: absent (not Raspberry Pi OS, or a venv without the system
    packages), or its C extensions built against apt's numpy while the venv has another."""
    banner = io.StringIO()
    try:
        with contextlib.redirect_stderr(banner):
            from picamera2 import Picamera2
        return Picamera2
    except (ImportError, ValueError, AttributeError) as exc:
        said = f"{exc} {banner.getvalue()}"
        if any(sign in said for sign in NUMPY_ABI):
            import numpy

            log.debug("importing picamera2: %s\n%s", exc, banner.getvalue())
            where = numpy.__file__.rsplit("/numpy/", 1)[0]
            raise CameraError(
                f"picamera2 cannot load with numpy {numpy.__version__} (from {where}): "
                f"apt's picamera2 and simplejpeg are built against apt's numpy{apt_numpy()} — reinstall with "
                "systemd/install.sh, which keeps apt's numpy in the venv") from None
        if isinstance(exc, ImportError):
            raise CameraError("picamera2 is not available — on Raspberry Pi OS: sudo apt install python3-picamera2, "
                              "and create the venv with --system-site-packages") from None
        raise


@source("csi", "csi", order=0)
def open_csi(spec: str, width: int | None, height: int | None, fps: float | None) -> "CsiCamera | None":
    return CsiCamera(width or 640, height or 480, fps) if spec == "csi" else None


class CsiCamera(Camera):
    def __init__(self, width: int, height: int, fps: float | None = None, picamera2_class=None):
        if picamera2_class is None:
            picamera2_class = import_picamera2()
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
