"""Mask classifiers: the manifest picks the artifact, one backend file per interpreter."""

import logging
import tempfile
import weakref
from pathlib import Path

from .. import manifest as manifests
from .. import selftest
from ..errors import ConfigError
from ..paths import SHIPPED_MODELS, model_path
from .base import Classifier

BACKENDS = ("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32")
log = logging.getLogger(__name__)


def _default_backend(manifest) -> str:
    try:
        import ai_edge_litert  # noqa: F401

        preferred = "litert-int8"
    except ImportError:
        preferred = "onnx-int8"
    have = [a.backend for a in manifest.artifacts]
    return preferred if preferred in have else have[0]


def load_classifier(model: Path | str, backend: str | None = None, threads: int = 1, prove: bool = True) -> Classifier:
    """The classifier for a model bundle (folder, or tarball from `make package`), its manifest.json,
    one artifact file in it, or the name of a bundle shipped in the package (``default``, ``fast``).

    ``backend``: one of BACKENDS, or "litert"/"onnx" for that interpreter's int8 artifact;
    by default the file given, else LiteRT int8 where LiteRT is installed. ``prove``: run the
    manifest's self-test (export turns it off while it is still measuring the self-test).
    """
    model = given = model_path(model)
    scratch = None
    if manifests.is_packed(model):
        scratch = tempfile.TemporaryDirectory(prefix="edge-model-")
        model = manifests.unpack(model, Path(scratch.name))
    bundle = model if model.is_dir() else model.parent
    manifest = manifests.load(bundle)
    if backend in ("litert", "onnx"):
        backend = f"{backend}-int8"
    if backend is not None and backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}, litert, onnx")
    if backend is None:
        backend = model.name if model.suffix in (".tflite", ".onnx") else _default_backend(manifest)
    artifact = manifest.artifact(backend)
    path = manifests.verify_file(bundle, artifact)
    if artifact.format == "tflite":
        from .litert import LiteRTClassifier

        classifier = LiteRTClassifier(manifest, artifact, path, threads)
    else:
        from .onnx import OnnxClassifier

        classifier = OnnxClassifier(manifest, artifact, path, threads)
    if scratch is not None:
        # The unpacked bundle lives as long as the classifier that was loaded from it.
        weakref.finalize(classifier, scratch.cleanup)
    classifier.shown_name = _shown_name(given, bundle)
    if prove and not selftest.verify(classifier):
        log.warning("model %s has a version 1 manifest without a self-test, so its labels cannot be proven: "
                    "re-export it (or `python -m export.seal` a bundle you exported yourself)", classifier.shown_name)
    return classifier


def _shown_name(given: Path, bundle: Path) -> str:
    """How logs name a model: a shipped one by its name (``fast``), any other by its folder."""
    if bundle.parent == SHIPPED_MODELS:
        return bundle.name
    return str(given)
