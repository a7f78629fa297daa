"""Finite sources processed frame by frame: a video file, or a folder of images."""

import logging
from pathlib import Path

import cv2

from ..errors import CameraError, ImageError
from ..images import is_image_file, read_image
from .base import Camera, Frame

log = logging.getLogger(__name__)


class ImageFolderCamera(Camera):
    """Each image is one independent frame, in name order. Unreadable files are logged and skipped."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        files = sorted(p for p in self.folder.iterdir() if is_image_file(p))
        if not files:
            raise CameraError(f"no images in {self.folder} (.jpg, .png, ...) — point --camera at a folder "
                              "of images, a video file or a camera")
        self._files = iter(files)
        self.skipped: list[str] = []

    def read(self) -> Frame | None:
        for path in self._files:
            try:
                return Frame(read_image(path).bgr, path.name, independent=True)
            except ImageError as exc:
                log.warning("skipping %s: %s", path.name, exc)
                self.skipped.append(path.name)
        return None


class VideoFileCamera(Camera):
    def __init__(self, path: Path):
        self.path = Path(path)
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise CameraError(f"cannot open video {self.path} — is it a video file OpenCV can decode?")

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        return Frame(image, str(self.path)) if ok else None

    def close(self) -> None:
        self._capture.release()
