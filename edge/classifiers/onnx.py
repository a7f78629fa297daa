"""onnxruntime: CPU everywhere, CUDA or TensorRT where present (a Jetson)."""

import numpy as np

from ..errors import BackendUnavailableError
from .base import CLASSIFIERS, Classifier

_PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
_ONNX_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8"}


@CLASSIFIERS.register("onnx", order=1)
class OnnxClassifier(Classifier):
    backend = "onnx"
    format = "onnx"

    @classmethod
    def installed(cls) -> bool:
        import importlib.util

        return importlib.util.find_spec("onnxruntime") is not None

    def __init__(self, manifest, artifact, path, threads: int = 1):
        super().__init__(manifest, artifact)
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailableError(
                "onnxruntime is not installed: pip install onnxruntime (or use --backend litert)"
            ) from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        available = ort.get_available_providers()
        providers = [p for p in _PREFERRED_PROVIDERS if p in available]
        self._session = ort.InferenceSession(str(path), options, providers=providers)
        model_input = self._session.get_inputs()[0]
        model_output = self._session.get_outputs()[0]
        self._input_name = model_input.name
        self.check([-1 if not isinstance(d, int) else d for d in model_input.shape],
                   _ONNX_TYPES.get(model_input.type, model_input.type), int(model_output.shape[-1]))

    def _run(self, crops: np.ndarray) -> np.ndarray:
        (raw,) = self._session.run(None, {self._input_name: self.input_tensor(crops)})
        return self.output_probabilities(raw)
