"""Camera sources, chosen by the ``--camera`` string.

``csi`` (picamera2), ``usb`` / ``usb:N`` / ``/dev/videoN`` (V4L2), ``rtsp://`` and
``http://`` streams, a video file, or a folder of images.
"""

import re
from pathlib import Path

from ..errors import CameraError
from .base import Camera, Frame, Paced

__all__ = ["Camera", "Frame", "open_camera"]


def open_camera(spec: str, width: int | None = None, height: int | None = None,
                fps: float | None = None) -> Camera:
    if spec == "csi":
        from .csi import CsiCamera

        return CsiCamera(width or 640, height or 480, fps)
    usb = re.fullmatch(r"usb(?::(\d+))?|/dev/video(\d+)", spec)
    if usb:
        from .opencv import LiveCamera

        index = int(usb.group(1) or usb.group(2) or 0)
        return LiveCamera(index, f"/dev/video{index}", width, height, fps)
    if re.match(r"(rtsp|rtsps|http|https)://", spec):
        from .opencv import LiveCamera

        return LiveCamera(spec, spec, width, height, fps)
    path = Path(spec)
    if path.is_dir() or path.is_file():
        from .files import ImageFolderCamera, VideoFileCamera

        camera = ImageFolderCamera(path) if path.is_dir() else VideoFileCamera(path)
        return camera if fps is None else Paced(camera, fps)
    raise CameraError(f"no camera or file at {spec!r} — use csi, usb, usb:N, /dev/videoN, "
                      "rtsp://..., a video file or a folder of images")
