"""Face detectors, one file each, registered by name (``DETECTORS``).

``auto`` takes the registered detector of lowest ``auto_rank`` whose files are present (this project's own,
``maskwatch``, packaged; then stock YuNet, packaged; then the mask-fair Haar eye pairs, which need no file),
warning when it falls back.
"""

import warnings
from pathlib import Path

import cv2

from ..errors import ConfigError, DetectorFallback, ModelMismatchError
from .base import DETECTORS, FaceDetector

AUTO = "auto"
# What runs a detector's model: its int8 TFLite twin or its float one on LiteRT, or its ONNX on OpenCV.
RUNTIMES = ("litert-int8", "litert", "opencv")


def names() -> tuple[str, ...]:
    """The registered detectors' names."""
    return DETECTORS.names()


def choices() -> tuple[str, ...]:
    """What ``--detector`` takes: ``auto`` and every registered detector."""
    return (AUTO, *names())


def auto_order() -> list[str]:
    """The detectors ``auto`` tries, best first."""
    ranked = [(cls.auto_rank, name) for name, cls in DETECTORS.items() if cls.auto_rank is not None]
    return [name for _, name in sorted(ranked)]


def resolve(name: str, model_dir: Path | str) -> str:
    """The detector ``name`` stands for: itself, or for ``auto`` the first available by rank."""
    if name != AUTO:
        DETECTORS.get(name)  # an unknown name is refused here, with the choices
        return name
    ranked = auto_order()
    chosen = next(n for n in ranked if DETECTORS.get(n).available(Path(model_dir)))
    best = DETECTORS.get(ranked[0])
    if chosen != best.name:
        where, fix = ((best.packaged, "reinstall the package to restore it") if best.packaged is not None
                      else (model_dir, f"`edge-models fetch` gets {best.name}"))
        warnings.warn(f"no {best.name} detector in {where}: using {DETECTORS.get(chosen).summary}; {fix}",
                      DetectorFallback, stacklevel=3)
    return chosen


def preset(name: str) -> dict:
    """The fast-path settings of ``[speed] preset = "auto"`` for the detector ``name``."""
    return dict(DETECTORS.get(name).preset)


def create_detector(
    name: str, model_dir: Path | str = ".", max_side: int | None = None, min_score: float | None = None,
    threads: int | None = None, runtime: str = AUTO,
) -> FaceDetector:
    """Build the detector called ``name``; heavy files are only opened for the one chosen.

    ``runtime``: one of RUNTIMES the detector has (``auto``: its float twin on LiteRT where it can, else OpenCV).

    ``threads`` sets OpenCV's thread count, which is the whole process's: every detector runs
    on OpenCV, and OpenCV otherwise takes one thread per core; a YuNet on LiteRT takes as many.
    """
    if threads is not None:
        cv2.setNumThreads(threads)
    model_dir = Path(model_dir)
    name = resolve(name, model_dir)
    score = {} if min_score is None else {"min_score": min_score}
    cls = DETECTORS.get(name)
    if runtime not in (AUTO, *cls.runtimes):
        raise ConfigError(f"[detector] runtime {runtime!r}: the {name} detector runs on {' or '.join(cls.runtimes)} "
                          "(or auto)")
    options = {**score, **({"runtime": runtime} if len(cls.runtimes) > 1 else {})}
    try:
        return cls.from_dir(model_dir, max_side, **options)
    except cv2.error as exc:  # a truncated or foreign file in the detector folder
        raise ModelMismatchError(f"the {name} detector files in {model_dir} cannot be read ({exc.err}) — "
                                 "fetch them again with `edge-models fetch`") from exc
