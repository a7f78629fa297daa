"""Decoding images from files into 8-bit BGR frames, with every conversion made visible.

Used by the image-folder camera and by training's ingest, so the device and the training
set agree on what a readable image is.
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# OpenCV decodes a truncated JPEG or PNG into a half-grey image with only a warning on
# stderr, so truncation is checked from the file's own end marker.
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class DecodedImage:
    bgr: np.ndarray
    conversion: str | None  # "grayscale", "rgba", "16-bit" ... or None when none was needed


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _check_complete(data: bytes) -> None:
    if data.startswith(_JPEG_START) and _JPEG_END not in data[-64:]:
        raise ImageError("truncated JPEG (no end-of-image marker)")
    if data.startswith(_PNG_START) and not data.rstrip(b"\x00").endswith(_PNG_END):
        raise ImageError("truncated PNG (no IEND chunk)")


def decode_image(data: bytes, min_side: int = 1) -> DecodedImage:
    """Decode bytes to uint8 BGR; raise ImageError for corrupt, truncated or tiny images."""
    if not data:
        raise ImageError("empty file")
    _check_complete(data)
    raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise ImageError("not a decodable image")
    conversions = []
    if raw.dtype != np.uint8:
        conversions.append(f"{raw.dtype}")
        raw = cv2.normalize(raw, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if raw.ndim == 2 or raw.shape[2] == 1:
        conversions.append("grayscale")
        raw = cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
    elif raw.shape[2] == 4:
        conversions.append("rgba")
        raw = cv2.cvtColor(raw, cv2.COLOR_BGRA2BGR)
    height, width = raw.shape[:2]
    if min(height, width) < min_side:
        raise ImageError(f"too small ({width}x{height} px, need at least {min_side} px a side)")
    return DecodedImage(np.ascontiguousarray(raw), "+".join(conversions) or None)


def read_image(path: Path | str, min_side: int = 1) -> DecodedImage:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read {path.name}: {exc.strerror}") from exc
    return decode_image(data, min_side)
