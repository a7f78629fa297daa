import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (or $MASKWATCH_SHARED): the dataset and detector files that cannot be downloaded.

    Missing, it skips the test on a developer's machine and fails it where
    MASKWATCH_REQUIRE_SHARED is set (CI).
    """
    path = Path(os.environ.get("MASKWATCH_SHARED", REPO.parent / "shared"))
    if not (path / "datasets" / "masks").is_dir():
        message = f"shared files not found at {path} (set MASKWATCH_SHARED)"
        if os.environ.get("MASKWATCH_REQUIRE_SHARED") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def face_models(shared_dir) -> Path:
    return shared_dir / "models" / "face"


@pytest.fixture(scope="session")
def backbone_weights(shared_dir) -> Path:
    return shared_dir / "models" / "backbone" / "mobilenet_v2_1.0_no_top.weights.h5"


@pytest.fixture(scope="session")
def mask_images(shared_dir) -> Path:
    return shared_dir / "datasets" / "masks"
