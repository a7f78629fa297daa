"""YuNet as a Keras model built from its ONNX file, and the way back: trained weights into the same ONNX graph.

The stock ONNX (``../shared/models/face/face_detection_yunet_*.onnx``) is a plain chain of convolutions
(batch norm folded), ReLUs, 2x2 max pools, nearest 2x upsampling and additions, then per stride 8/16/32 the
heads ``cls``, ``obj`` (through a sigmoid), ``bbox`` (4) and ``kps`` (10), flattened row by row. Keras runs
the same arithmetic in NHWC, so its outputs equal OpenCV's within float error (tests/test_detector_training.py
checks 1e-4 on real frames). Export does not convert a Keras graph to ONNX: it writes the trained kernels
back into the stock file's initializers, so the exported model has the very graph ``cv2.FaceDetectorYN``
already loads, input and output names included.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

HEADS = ("cls", "obj", "bbox", "kps")


@dataclass(frozen=True)
class ConvLink:
    """Which Keras layer holds which ONNX initializers."""

    layer: str
    weight: str
    bias: str
    depthwise: bool


def _attributes(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def build(onnx_path: Path, logits: bool = False):
    """(Keras model, links) for the ONNX at ``onnx_path``.

    The model takes BGR frames, NHWC, pixel values 0-255 as OpenCV feeds them, any height and width that are
    multiples of 32, and returns a dict of the ONNX's outputs (``cls_8`` ... ``kps_32``), each [batch, rows,
    channels]. ``logits``: ``cls`` and ``obj`` before their sigmoid, for training losses.
    """
    import keras

    model = onnx.load(str(onnx_path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    inputs = keras.Input((None, None, 3), name="bgr")
    tensors = {model.graph.input[0].name: inputs}
    links: list[ConvLink] = []
    outputs = {o.name for o in model.graph.output}
    for index, node in enumerate(model.graph.node):
        attributes = _attributes(node)
        source = tensors[node.input[0]]
        kind = node.op_type
        if kind == "Conv":
            kernel = weights[node.input[1]]
            out_channels, per_group, kh, kw = kernel.shape
            groups = attributes.get("group", 1)
            top, left, bottom, right = (attributes.get("pads", [0, 0, 0, 0]) * 1)[:4]
            if (top, left) != (bottom, right):
                raise ValueError(f"node {index}: uneven padding {attributes['pads']}")
            x = keras.layers.ZeroPadding2D((top, left))(source) if top or left else source
            name = f"conv{index}"
            stride = tuple(attributes.get("strides", [1, 1]))
            if groups == 1:
                x = keras.layers.Conv2D(out_channels, (kh, kw), strides=stride, name=name)(x)
            elif per_group == 1 and groups == out_channels:
                x = keras.layers.DepthwiseConv2D((kh, kw), strides=stride, name=name)(x)
            else:
                raise ValueError(f"node {index}: grouped convolution {groups} groups is not depthwise")
            links.append(ConvLink(name, node.input[1], node.input[2], groups != 1))
        elif kind == "Relu":
            x = keras.layers.ReLU()(source)
        elif kind == "Sigmoid":
            x = source if logits else keras.layers.Activation("sigmoid")(source)
        elif kind == "MaxPool":
            if attributes["kernel_shape"] != [2, 2] or attributes["strides"] != [2, 2]:
                raise ValueError(f"node {index}: max pool {attributes} is not 2x2")
            x = keras.layers.MaxPooling2D(2)(source)
        elif kind == "Resize":
            if list(weights[node.input[2]]) != [1, 1, 2, 2] or attributes["mode"] != b"nearest":
                raise ValueError(f"node {index}: resize {attributes} is not a nearest 2x")
            x = keras.layers.UpSampling2D(2, interpolation="nearest")(source)
        elif kind == "Add":
            x = keras.layers.Add()([source, tensors[node.input[1]]])
        elif kind == "Transpose":
            if attributes["perm"] != [0, 2, 3, 1]:
                raise ValueError(f"node {index}: transpose {attributes['perm']}")
            x = source  # NCHW -> NHWC: Keras already is NHWC
        elif kind == "Reshape":
            x = keras.layers.Reshape((-1, int(weights[node.input[1]][-1])))(source)
        else:
            raise ValueError(f"node {index}: operator {kind} is not one YuNet uses")
        for name in node.output:
            tensors[name] = x
    result = {name: keras.layers.Identity(name=name)(tensors[name]) for name in sorted(outputs)}
    keras_model = keras.Model(inputs, result, name="yunet")
    for link in links:
        kernel, bias = weights[link.weight], weights[link.bias]
        # ONNX kernels are (out, in / groups, kh, kw); Keras' (kh, kw, in, out), depthwise (kh, kw, in, 1)
        kernel = kernel.transpose(2, 3, 0, 1) if link.depthwise else kernel.transpose(2, 3, 1, 0)
        keras_model.get_layer(link.layer).set_weights([kernel, bias])
    return keras_model, links


def write_onnx(keras_model, links: list[ConvLink], stock: Path, out: Path) -> None:
    """The stock ONNX graph with the Keras model's kernels and biases as its initializers."""
    model = onnx.load(str(stock))
    trained = {}
    for link in links:
        kernel, bias = keras_model.get_layer(link.layer).get_weights()
        trained[link.weight] = kernel.transpose(2, 3, 0, 1) if link.depthwise else kernel.transpose(3, 2, 0, 1)
        trained[link.bias] = bias
    for initializer in model.graph.initializer:
        if initializer.name in trained:
            array = np.ascontiguousarray(trained[initializer.name], dtype=np.float32)
            if array.shape != tuple(initializer.dims):
                raise ValueError(f"{initializer.name}: trained shape {array.shape} is not {tuple(initializer.dims)}")
            initializer.CopyFrom(numpy_helper.from_array(array, initializer.name))
    onnx.checker.check_model(model)
    Path(out).write_bytes(model.SerializeToString())


def decode(bbox: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) in pixels from the ``bbox`` head, as ``cv2.FaceDetectorYN`` decodes them."""
    stride = grid[:, 2:3]
    centre = (grid[:, :2] + bbox[:, :2]) * stride
    size = np.exp(np.minimum(bbox[:, 2:4], 10.0)) * stride
    return np.hstack([centre - size / 2, centre + size / 2])


def write_tflite(onnx_path: Path, out: Path | None = None) -> Path:
    """The ONNX's float TFLite twin (default: beside it, ``.tflite``), which edge.detectors.yunet_litert runs.

    Any input size (the runtime resizes the input to its frames), heads as the Keras model names them.
    """
    import tensorflow as tf

    model, _ = build(onnx_path)
    out = Path(out) if out is not None else Path(onnx_path).with_suffix(".tflite")
    out.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return out


def write_int8(onnx_path: Path, frames, out: Path | None = None) -> Path:
    """The ONNX's int8 TFLite twin (default: beside it, ``.int8.tflite``): weights and activations int8, input
    and heads float, so edge.detectors.yunet_litert feeds and decodes it as it does the float twin.

    ``frames``: a function giving the calibration frames (BGR, 0-255, each as the detector sees it), whose
    activations set each tensor's int8 range. Any input size, as the float twin.
    """
    import tensorflow as tf

    model, _ = build(onnx_path)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.asarray(frame, np.float32)[None]] for frame in frames())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    out = Path(out) if out is not None else Path(onnx_path).with_suffix(".int8.tflite")
    out.write_bytes(converter.convert())
    return out


def main(argv=None) -> int:
    from edge.console import Parser

    p = Parser(prog="python -m train.yunet_keras", description="Write a YuNet ONNX's float TFLite twin for LiteRT.")
    p.add_argument("--tflite", type=Path, nargs="+", required=True, metavar="ONNX",
                   help="YuNet ONNX files; each twin is written beside its ONNX")
    args = p.parse_args(argv)
    for onnx_path in args.tflite:
        print(f"wrote {write_tflite(onnx_path)}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
