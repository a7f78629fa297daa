"""Camera sources, one file per kind, registered by the ``--camera`` forms they open (``CAMERAS``).

``csi`` (picamera2), ``usb`` / ``usb:N`` / ``/dev/videoN`` (V4L2), ``rtsp://`` and
``http://`` streams, a video file, or a folder of images.
"""

from ..errors import CameraError
from .base import CAMERAS, Camera, Frame, Paced

__all__ = ["CAMERAS", "Camera", "Frame", "Paced", "open_camera"]


def open_camera(spec: str, width: int | None = None, height: int | None = None,
                fps: float | None = None) -> Camera:
    for _, opener in CAMERAS.items():
        camera = opener(spec, width, height, fps)
        if camera is not None:
            return camera
    forms = ", ".join(opener.forms for _, opener in CAMERAS.items())
    raise CameraError(f"no camera or file at {spec!r} — use {forms}")
