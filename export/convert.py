"""Converters from the Keras model to the device's formats. Each writes one file."""

from pathlib import Path

import numpy as np
import tensorflow as tf


def _calibration_batches(crops: np.ndarray):
    def batches():
        for crop in crops:
            yield [crop[None].astype(np.float32)]

    return batches


def tflite_int8(model, calibration: np.ndarray, path: Path) -> None:
    """Full-integer TFLite: int8 weights, activations, input and output.

    The input takes raw pixels: with Rescaling(1/127.5, -1) first in the graph, calibration
    gives it scale 1 and zero point -128, so q = pixel - 128 loses nothing.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _calibration_batches(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())


def tflite_float(model, path: Path, float16: bool = False) -> None:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if float16:  # for GPU delegates; CPUs upcast it
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    path.write_bytes(converter.convert())


def onnx_fp32(model, size: int, path: Path, opset: int = 17) -> None:
    import tf2onnx

    spec = (tf.TensorSpec([None, size, size, 3], tf.float32, name="pixels"),)

    @tf.function(input_signature=spec)
    def serve(pixels):
        return model(pixels, training=False)

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset, output_path=str(path))


def onnx_int8(fp32_path: Path, calibration: np.ndarray, path: Path) -> None:
    """Static QDQ quantization (uint8 activations, per-channel uint8 weights), calibrated on the same crops.

    Dynamic quantization would be 3-16x slower than fp32 on these CPUs, hence static.
    Unsigned weights because onnxruntime runs u8s8 on x86 CPUs without VNNI through
    VPMADDUBSW, whose int16 sums saturate: on the default run u8s8 kept 94.3% test accuracy
    (98.8% with 7-bit weights) where u8u8 keeps float's 99.5% at the same speed.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._crops = iter(calibration)

        def get_next(self):
            crop = next(self._crops, None)
            return None if crop is None else {"pixels": crop[None].astype(np.float32)}

    prepared = path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_static(str(prepared), str(path), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8, per_channel=True)
    finally:
        prepared.unlink(missing_ok=True)
