"""The Classifier interface: a batch of RGB face crops in, class probabilities out."""

from abc import ABC, abstractmethod

import numpy as np

from ..adapters import dequantize, to_input
from ..errors import ModelMismatchError
from ..manifest import Artifact, Manifest
from ..registry import Registry

PRECISIONS = ("int8", "fp32")


class BackendRegistry(Registry):
    """Interpreters, each registered under its name (``litert``); an artifact is ``NAME-PRECISION``."""

    def artifacts(self) -> tuple[str, ...]:
        """Every artifact a bundle may hold: ``litert-int8`` ... ``onnx-fp32``."""
        return tuple(f"{name}-{precision}" for name in self.names() for precision in PRECISIONS)

    def preferred(self) -> str:
        """The first installed interpreter by rank: the one an int8 artifact runs fastest on."""
        return next((name for name, cls in self.items() if cls.installed()), self.names()[-1])

    def for_format(self, file_format: str) -> type:
        """The interpreter of an artifact file's format (``tflite``, ``onnx``)."""
        return next(cls for _, cls in self.items() if cls.format == file_format)


# Every backend file registers its class here (``@CLASSIFIERS.register("name", order)``).
CLASSIFIERS = BackendRegistry("classifier backend", "edge.classifiers")


class Classifier(ABC):
    """One exported artifact on one interpreter, held to what the manifest says of it."""

    backend = ""
    format = ""  # the artifact file format it runs (the manifest's artifact.format)
    shown_name = ""  # how logs name the model: a shipped one by its name, others by path (set by the loader)

    def __init__(self, manifest: Manifest, artifact: Artifact):
        self.manifest, self.artifact = manifest, artifact
        self.size = manifest.input_size

    @classmethod
    def installed(cls) -> bool:
        """Whether its interpreter can be imported here."""
        return False

    @property
    def threshold(self) -> float | None:
        """p(violation) at or above which this artifact's face is a violation (see Manifest.threshold_of)."""
        return self.manifest.threshold_of(self.artifact)

    def check(self, input_shape, input_dtype: str, output_classes: int, quantization=None) -> None:
        """Refuse a model whose tensors differ from the manifest's claims."""
        spec = self.artifact.input
        name = self.artifact.file
        if list(input_shape[1:]) != list(spec.shape[1:]) or input_dtype != spec.dtype:
            raise ModelMismatchError(
                f"{name} takes {input_dtype} {list(input_shape)}, its manifest says "
                f"{spec.dtype} {spec.shape}: the manifest belongs to another model — re-export"
            )
        if output_classes != len(self.manifest.labels):
            raise ModelMismatchError(
                f"{name} outputs {output_classes} classes, its manifest lists "
                f"{len(self.manifest.labels)} labels {self.manifest.labels}: re-export the model"
            )
        if quantization is not None and spec.scale is not None:
            scale, zero_point = quantization
            if not np.isclose(scale, spec.scale) or zero_point != spec.zero_point:
                raise ModelMismatchError(
                    f"{name} input quantization ({scale}, {zero_point}) differs from its manifest "
                    f"({spec.scale}, {spec.zero_point}): re-export the model"
                )

    def input_tensor(self, crops: np.ndarray) -> np.ndarray:
        spec = self.artifact.input
        return to_input(crops, spec.dtype, spec.scale, spec.zero_point)

    def output_probabilities(self, raw: np.ndarray) -> np.ndarray:
        spec = self.artifact.output
        if spec.scale is not None:
            return dequantize(raw, spec.scale, spec.zero_point)
        return raw.astype(np.float32, copy=False)

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N x classes) for RGB uint8 crops (N x size x size x 3), in one call."""
        crops = np.asarray(crops)
        if len(crops) == 0:
            return np.zeros((0, len(self.manifest.labels)), np.float32)
        if crops.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"crops must be {self.size}x{self.size}x3, got {crops.shape[1:]}")
        return self._run(crops)

    @abstractmethod
    def _run(self, crops: np.ndarray) -> np.ndarray: ...
