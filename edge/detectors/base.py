"""The FaceDetector interface: a frame in, face boxes out, in the frame's own pixels, with how sure and how
turned each face is."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..crops import downscale_for_detection, scale_boxes
from ..registry import Registry

# Every detector file registers its class here (``@DETECTORS.register("name")``).
DETECTORS = Registry("detector", "edge.detectors")

# The longer side frames are shrunk to for detection, unless the config or a detector's bundle says otherwise.
DEFAULT_SIDE = 640
NO_FACES = np.zeros((0, 7), dtype=np.float64)
# The turn of a face a detector without landmarks finds: it cannot tell, and takes every face as frontal.
NO_TURN = 0.0
# Where the eyes of a face a detector without landmarks finds are: it cannot tell.
NO_EYES = np.nan


def turn(eyes: np.ndarray, nose: np.ndarray) -> np.ndarray:
    """How far each face is turned away, from its landmarks (rows of two eyes' x, y; a nose's x, y): the nose's
    sideways offset from between the eyes, in eye distances. 0 is frontal; real profiles measured 1-4 (YuNet
    puts their eyes close together), the back of a bald head it took for a face 2.1-4.9."""
    eyes = np.asarray(eyes, np.float64).reshape(-1, 4)
    middle = (eyes[:, 0] + eyes[:, 2]) / 2
    distance = np.hypot(eyes[:, 2] - eyes[:, 0], eyes[:, 3] - eyes[:, 1])
    return np.abs(np.asarray(nose, np.float64).reshape(-1, 2)[:, 0] - middle) / np.maximum(distance, 1e-6)


@dataclass(frozen=True)
class ModelFile:
    """A detector file that ``edge-models fetch`` downloads and checks."""

    name: str
    url: str
    sha256: str


def plausible(faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """Rows with finite numbers (the eyes may be unknown) and a non-empty box that overlaps the frame and is no
    more than twice the frame's longer side (a face right at the lens fills the frame, no face exceeds it).

    Detector networks can emit garbage on tiny or odd inputs (YuNet gave a box at x=3.6e29
    on a 32x60 image, and one 5.5e9 px wide covering a whole HTTP-streamed frame); one such row
    must not stop a frame, a training run or an export.
    """
    x, y, w, h = faces[:, 0], faces[:, 1], faces[:, 2], faces[:, 3]
    largest = 2 * max(width, height)
    with np.errstate(invalid="ignore", over="ignore"):
        keep = (np.isfinite(faces[:, :6]).all(axis=1) & (w > 0) & (h > 0) & (w <= largest) & (h <= largest)
                & (x < width) & (y < height) & (x + w > 0) & (y + h > 0))
    return faces[keep]


class FaceDetector(ABC):
    """Finds faces on a BGR frame.

    Detection runs on a copy shrunk so its longer side is at most ``max_side``, because
    detection cost grows with pixel count and faces at a doorway are large; boxes are
    mapped back to the original frame.
    """

    name: str = ""
    # What --help and --print-config say of it, after its name.
    summary: str = ""
    # The score a real face reaches on at least one frame of its track (``[tracker] face_score``): a wall
    # pattern or the back of a head is found frame after frame, but rarely scores like a face. 0: no check
    # (a detector without a graded score).
    face_score: float = 0.0
    # Its ``[speed] preset = "auto"``: the fastest fast-path settings measured to count what detection on every
    # frame counts (``make walkthrough``); a detector not measured so detects on every frame.
    preset: dict = {"detect_every": 1, "motion_gate": False, "motion_regions": False}
    # What runs its model, for the first log line (a YuNet with a TFLite twin runs on LiteRT).
    runtime: str = "opencv"
    # What ``[detector] runtime`` may name for it.
    runtimes: tuple[str, ...] = ("opencv",)
    # Files ``edge-models fetch`` downloads for it; none: it needs no file.
    files: tuple = ()
    # The bundle it ships in inside the package (edge.detectors.bundle); None: its files are fetched, or it needs none.
    packaged: Path | None = None
    # ``--detector auto`` takes the detector of lowest rank whose files are present; None: never chosen so.
    auto_rank: int | None = None

    @classmethod
    def available(cls, model_dir: Path) -> bool:
        """Whether its files are in ``model_dir`` (``auto`` asks)."""
        return all((Path(model_dir) / f.name).is_file() for f in cls.files)

    @classmethod
    @abstractmethod
    def from_dir(cls, model_dir: Path, max_side: int | None, **options) -> "FaceDetector":
        """The detector with its files from ``model_dir``; ``max_side`` None: its own; ``options``: ``min_score``
        when one is given, ``runtime`` (one of its ``runtimes`` or ``auto``) when it has more than one."""

    def __init__(self, max_side: int | None = DEFAULT_SIDE, min_score: float = 0.5):
        self.max_side = max_side or DEFAULT_SIDE
        self.min_score = min_score

    def detect(self, frame_bgr: np.ndarray, regions: np.ndarray | None = None) -> np.ndarray:
        """Faces as rows ``(x, y, w, h, score, turn, eyes)`` in pixels of ``frame_bgr`` (``turn``: see turn();
        ``eyes``: the height of the line between the eyes, NO_EYES where the detector has no landmarks).

        ``regions``: search only these parts of the frame (None: all of it), rows
        ``(x0, y0, x1, y1, smallest, largest)`` as ``crops.search_regions`` makes them, the last two
        the face widths expected there (NaN: any).
        """
        if regions is not None and len(regions) == 0:
            return NO_FACES  # nothing changed and nobody tracked: skip even the preparation
        small, factor = downscale_for_detection(frame_bgr, self.max_side)
        prepared = self._prepare(small)
        if regions is None:
            faces = self._detect(prepared)
        else:
            found = [NO_FACES]
            for x0, y0, x1, y1, smallest, largest in np.asarray(regions, dtype=np.float64).reshape(-1, 6):
                x0, y0, x1, y1 = np.rint(np.array([x0, y0, x1, y1]) * factor).astype(int)
                widths = None if np.isnan(smallest) else (smallest * factor, largest * factor)
                part = self._detect(prepared[y0:y1, x0:x1], widths)
                if len(part):
                    found.append(part + [x0, y0, 0, 0, 0, 0, y0])
            faces = np.vstack(found)
        if len(faces) == 0:
            return NO_FACES
        faces = faces[faces[:, 4] >= self.min_score]
        faces[:, :4] = scale_boxes(faces[:, :4], factor)
        faces[:, 6] /= factor
        return plausible(faces, frame_bgr.shape[1], frame_bgr.shape[0])

    def _prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        """What ``_detect`` searches, made once from the whole (downscaled) frame.

        A detector whose preparation depends on the picture around a face (Haar's local contrast)
        does it here, so a search of part of the frame sees the same pixels as a whole-frame one.
        """
        return frame_bgr

    @abstractmethod
    def _detect(self, prepared: np.ndarray, face_widths: tuple[float, float] | None = None) -> np.ndarray:
        """Rows ``(x, y, w, h, score, turn, eyes)`` on ``_prepare``'s image or a part of it.

        ``face_widths``: the smallest and largest face width expected there, in its pixels (None:
        any). A detector that searches size by size (Haar) skips the others; a network that sees
        every size in one pass has nothing to skip.
        """
