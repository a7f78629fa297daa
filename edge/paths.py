"""Where the runtime finds its files when no option says otherwise."""

import os
from pathlib import Path

from .errors import ModelFileError
from .manifest import MANIFEST_NAME, is_packed

# The models trained and exported by this project's own pipeline ship inside the package.
SHIPPED_MODELS = Path(__file__).parent / "models"
DEFAULT_MODEL = SHIPPED_MODELS / "default"


def shipped_models() -> list[str]:
    return sorted(p.name for p in SHIPPED_MODELS.iterdir() if (p / MANIFEST_NAME).is_file())


def model_path(value: Path | str) -> Path:
    """A model bundle, manifest or artifact given by path, or a shipped bundle by name (``fast``)."""
    path = Path(value)
    if path.exists() or is_packed(path):  # a missing tarball gets unpack's own advice
        return path
    names = shipped_models()
    if len(path.parts) == 1 and path.name in names:
        return SHIPPED_MODELS / path.name
    raise ModelFileError(f"no model at {value} — give an exported bundle's folder, "
                         f"or a shipped model: {', '.join(names)}")


def detector_dir() -> Path:
    """Detector files fetched by ``edge-models fetch``: $MASKWATCH_MODELS, else the user's data dir."""
    if "MASKWATCH_MODELS" in os.environ:
        return Path(os.environ["MASKWATCH_MODELS"])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "maskwatch" / "models"
