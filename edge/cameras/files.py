"""Finite sources processed frame by frame: a video file, or a folder of images.

Both go past what they cannot decode and count it (``skipped``), so one damaged frame or file
does not end the run early and leave the people after it uncounted.
"""

import logging
import os
from pathlib import Path

import cv2

from ..errors import CameraError, ImageError
from ..images import is_image_file, read_image
from .base import Camera, Frame, Paced, source

log = logging.getLogger(__name__)

NAMED = 3  # unreadable images named in the log; the rest are only counted
MAX_SIDE = 8192  # px: a "video" with larger frames is another kind of file FFmpeg made pictures of


@source("file", "a video file or a folder of images", order=3)
def open_file(spec: str, width: int | None, height: int | None, fps: float | None) -> "Camera | None":
    path = Path(spec)
    if not (path.is_dir() or path.is_file()):
        return None
    camera = ImageFolderCamera(path) if path.is_dir() else VideoFileCamera(path)
    return camera if fps is None else Paced(camera, fps)


class ImageFolderCamera(Camera):
    """Each image is one independent frame, in name order. Unreadable files are logged and skipped."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        files = sorted(p for p in self.folder.iterdir() if is_image_file(p))
        if not files:
            raise CameraError(f"no images in {self.folder} (.jpg, .png, ...) — point --camera at a folder "
                              "of images, a video file or a camera")
        self._files = iter(files)
        self.skipped_names: list[str] = []

    def read(self) -> Frame | None:
        for path in self._files:
            try:
                return Frame(read_image(path).bgr, path.name, independent=True)
            except ImageError as exc:
                if len(self.skipped_names) < NAMED:
                    log.warning("skipping %s: %s", path.name, exc)
                self.skipped_names.append(path.name)
                self.skipped += 1
        return None


class VideoFileCamera(Camera):
    """A video file, decoded to its end: FFmpeg fails one read per damaged packet and then decodes
    the frames after it, so reading goes on past failures until the frames the file holds are
    all accounted for."""

    GIVE_UP = 100  # failed reads in a row after which a file has ended, whatever its header claims

    def __init__(self, path: Path):
        self.path = Path(path)
        # FFmpeg prints a line per damaged packet; they are counted and reported once instead.
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise CameraError(f"cannot open video {self.path} — is it a video file OpenCV can decode?")
        width, height = (self._capture.get(p) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        # FFmpeg "decodes" some other files too (its text-art demuxer draws any .bin as a picture);
        # they carry no video codec.
        if int(self._capture.get(cv2.CAP_PROP_FOURCC)) == 0 or max(width, height) > MAX_SIDE:
            self._capture.release()
            raise CameraError(f"{self.path} is not a video (no video codec) — give --camera a video file, "
                              "an image folder or a camera")
        frames = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.expected = int(frames) if 0 < frames < 1e9 else None  # None: the container does not say
        self.delivered = 0

    def read(self) -> Frame | None:
        failures = 0
        while failures < self.GIVE_UP:
            ok, image = self._capture.read()
            if ok and image is not None and image.size:
                self.delivered += 1
                self.skipped += failures
                return Frame(image, str(self.path))
            failures += 1
            if self.expected is not None and self.delivered + self.skipped + failures > self.expected:
                break  # every frame the file holds is read or counted as damaged
        if self.expected is not None:
            self.skipped = max(self.skipped, self.expected - self.delivered)
        return None

    def close(self) -> None:
        self._capture.release()
