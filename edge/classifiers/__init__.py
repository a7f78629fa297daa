"""Mask classifiers: the manifest picks the artifact, one backend file per interpreter (``CLASSIFIERS``)."""

import tempfile
import warnings
import weakref
from pathlib import Path

from .. import manifest as manifests
from .. import selftest
from ..errors import ConfigError, UnprovenModelWarning
from ..paths import SHIPPED_MODELS, model_path
from .base import CLASSIFIERS, Classifier


def backends() -> tuple[str, ...]:
    """Every artifact a bundle may hold, by backend and precision (``litert-int8`` ...)."""
    return CLASSIFIERS.artifacts()


def _default_backend(manifest) -> str:
    preferred = f"{CLASSIFIERS.preferred()}-int8"
    have = [a.backend for a in manifest.artifacts]
    return preferred if preferred in have else have[0]


def load_classifier(model: Path | str, backend: str | None = None, threads: int = 1, prove: bool = True) -> Classifier:
    """The classifier for a model bundle (folder, or tarball from `make package`), its manifest.json,
    one artifact file in it, or the name of a bundle shipped in the package (``default``, ``fast``).

    ``backend``: one of ``backends()``, or an interpreter's name for its int8 artifact;
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
    if backend in CLASSIFIERS.names():
        backend = f"{backend}-int8"
    if backend is not None and backend not in backends():
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(backends())}, "
                          f"{', '.join(CLASSIFIERS.names())}")
    if backend is None:
        backend = model.name if model.suffix in (".tflite", ".onnx") else _default_backend(manifest)
    artifact = manifest.artifact(backend)
    path = manifests.verify_file(bundle, artifact)
    classifier = CLASSIFIERS.for_format(artifact.format)(manifest, artifact, path, threads)
    if scratch is not None:
        # The unpacked bundle lives as long as the classifier that was loaded from it.
        weakref.finalize(classifier, scratch.cleanup)
    classifier.shown_name = _shown_name(given, bundle)
    if prove and not selftest.verify(classifier):
        warnings.warn(f"model {classifier.shown_name} has a version 1 manifest without a self-test, so its labels "
                      "cannot be proven: re-export it (or `python -m export.seal` a bundle you exported yourself)",
                      UnprovenModelWarning, stacklevel=2)
    return classifier


def _shown_name(given: Path, bundle: Path) -> str:
    """How logs name a model: a shipped one by its name (``fast``), any other by its folder."""
    if bundle.parent == SHIPPED_MODELS:
        return bundle.name
    return str(given)
