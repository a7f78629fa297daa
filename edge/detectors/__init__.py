"""Face detectors, one file each, chosen by name.

``auto`` picks YuNet when its model file is present and otherwise the mask-fair Haar setup
(eye pairs), warning that YuNet finds more faces.
"""

import logging
from pathlib import Path

import cv2

from ..errors import ModelMismatchError
from .base import FaceDetector

log = logging.getLogger(__name__)

NAMES = ("auto", "haar", "ssd", "yunet")


def create_detector(
    name: str, model_dir: Path | str = ".", max_side: int = 640, min_score: float | None = None,
    threads: int | None = None,
) -> FaceDetector:
    """Build the detector called ``name``; heavy files are only opened for the one chosen.

    ``threads`` sets OpenCV's thread count, which is the whole process's: every detector runs
    on OpenCV, and OpenCV otherwise takes one thread per core.
    """
    if threads is not None:
        cv2.setNumThreads(threads)
    model_dir = Path(model_dir)
    score = {} if min_score is None else {"min_score": min_score}
    if name == "auto":
        from .yunet import find_model

        if find_model(model_dir) is not None:
            name = "yunet"
        else:
            log.warning(
                "no YuNet model in %s: using Haar eye pairs, which find fewer faces (about half, "
                "against 9 in 10); `edge-models fetch` gets YuNet", model_dir,
            )
            name = "haar"
    try:
        return _build(name, model_dir, max_side, score)
    except cv2.error as exc:  # a truncated or foreign file in the detector folder
        raise ModelMismatchError(f"the {name} detector files in {model_dir} cannot be read ({exc.err}) — "
                                 "fetch them again with `edge-models fetch`") from exc


def _build(name: str, model_dir: Path, max_side: int, score: dict) -> FaceDetector:
    if name == "haar":
        from .haar import HaarDetector

        return HaarDetector(max_side=max_side, **score)
    if name == "ssd":
        from .ssd import SsdConfig, SsdDetector

        return SsdDetector(SsdConfig(model_dir=model_dir), max_side=max_side, **score)
    if name == "yunet":
        from .yunet import YunetConfig, YunetDetector

        return YunetDetector(YunetConfig(model_dir=model_dir), max_side=max_side, **score)
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(NAMES)}")
