"""Where the runtime finds its files when no option says otherwise."""

import os
from pathlib import Path

# The model trained and exported by this project's own pipeline ships inside the package.
DEFAULT_MODEL = Path(__file__).parent / "models" / "default"


def detector_dir() -> Path:
    """Detector files fetched by ``edge-models fetch``: $MASKWATCH_MODELS, else the user's data dir."""
    if "MASKWATCH_MODELS" in os.environ:
        return Path(os.environ["MASKWATCH_MODELS"])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "maskwatch" / "models"
