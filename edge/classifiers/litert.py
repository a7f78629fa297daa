"""LiteRT (``ai_edge_litert``), falling back to the old ``tflite_runtime``.

LiteRT runs int8 through XNNPACK; tflite-runtime 2.14 does not (about 25x slower for int8)
and breaks with numpy 2, so it is only a fallback for systems that cannot get LiteRT.
"""

import warnings

import numpy as np

from ..errors import BackendFallback, BackendUnavailableError
from .base import CLASSIFIERS, Classifier


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendUnavailableError(
                "no TFLite interpreter: pip install ai-edge-litert (or use --backend onnx)"
            ) from None
        warnings.warn("using tflite_runtime: int8 runs without XNNPACK, about 25x slower; pip install ai-edge-litert",
                      BackendFallback, stacklevel=2)
    return Interpreter


@CLASSIFIERS.register("litert", order=0)  # XNNPACK int8: the fastest where it is installed
class LiteRTClassifier(Classifier):
    backend = "litert"
    format = "tflite"

    @classmethod
    def installed(cls) -> bool:
        import importlib.util

        return importlib.util.find_spec("ai_edge_litert") is not None

    def __init__(self, manifest, artifact, path, threads: int = 1):
        super().__init__(manifest, artifact)
        self._interpreter = _interpreter_class()(model_path=str(path), num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        scale, zero_point = self._input["quantization"]
        self.check(self._input["shape"], np.dtype(self._input["dtype"]).name,
                   int(self._output["shape"][-1]), (scale, zero_point) if scale else None)
        self._batch = int(self._input["shape"][0])

    def _run(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) != self._batch:
            # One invoke for all faces of a frame: resize the batch dimension when it changes.
            self._interpreter.resize_tensor_input(self._input["index"], [len(crops), self.size, self.size, 3])
            self._interpreter.allocate_tensors()
            self._batch = len(crops)
        self._interpreter.set_tensor(self._input["index"], self.input_tensor(crops))
        self._interpreter.invoke()
        return self.output_probabilities(self._interpreter.get_tensor(self._output["index"]))
