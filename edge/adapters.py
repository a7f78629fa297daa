"""Pure numpy conversions between pixels and a model's tensors (no interpreter needed)."""

import numpy as np

_INTEGER_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def quantize(pixels: np.ndarray, dtype: str, scale: float, zero_point: int) -> np.ndarray:
    """Raw 0..255 pixels to a quantized input tensor: q = round(x / scale) + zero_point."""
    low, high = _INTEGER_RANGES[dtype]
    q = np.rint(pixels.astype(np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, low, high).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Quantized outputs to float. Through int64 so ``q - zero_point`` cannot wrap around."""
    return (values.astype(np.int64) - zero_point).astype(np.float32) * np.float32(scale)


def to_input(pixels: np.ndarray, dtype: str, scale: float | None, zero_point: int | None) -> np.ndarray:
    """A batch of RGB uint8 crops as the model's input tensor."""
    if dtype in _INTEGER_RANGES:
        if (dtype, scale, zero_point) == ("uint8", 1.0, 0):
            return np.ascontiguousarray(pixels, dtype=np.uint8)
        return quantize(pixels, dtype, scale, zero_point)
    return pixels.astype(dtype)
