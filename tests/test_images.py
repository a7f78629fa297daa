import cv2
import numpy as np
import pytest

from edge.errors import ImageError
from edge.images import decode_image, read_image


def encode(ext, image, *params):
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok
    return data.tobytes()


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8), (5, 5), 0)


def test_plain_jpeg_decodes_without_conversion(photo):
    decoded = decode_image(encode(".jpg", photo))
    assert decoded.bgr.shape == (60, 80, 3) and decoded.bgr.dtype == np.uint8
    assert decoded.conversion is None


def test_grayscale_rgba_and_16_bit_are_converted_to_bgr(photo):
    gray = decode_image(encode(".png", cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)))
    assert gray.bgr.shape == (60, 80, 3) and gray.conversion == "grayscale"
    rgba = decode_image(encode(".png", cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)))
    assert rgba.bgr.shape == (60, 80, 3) and rgba.conversion == "rgba"
    np.testing.assert_array_equal(rgba.bgr, photo)
    deep = decode_image(encode(".png", photo.astype(np.uint16) * 257))
    assert deep.bgr.dtype == np.uint8 and deep.conversion == "uint16"


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated_files_are_refused(photo, ext):
    data = encode(ext, photo)
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: len(data) // 2])


def test_garbage_empty_and_tiny_images_are_refused(photo, tmp_path):
    with pytest.raises(ImageError, match="not a decodable"):
        decode_image(b"this is not an image at all")
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageError, match="too small"):
        decode_image(encode(".png", photo[:10, :10]), min_side=24)
    with pytest.raises(ImageError, match="cannot read"):
        read_image(tmp_path / "missing.jpg")
    assert isinstance(ImageError("x"), ValueError)  # callers may catch the builtin
