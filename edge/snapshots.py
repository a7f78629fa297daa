"""Annotated snapshots of counted people, for checking a new installation.

Off unless a folder is configured: a snapshot holds faces, and by default the device
stores counts only.
"""

import time
from pathlib import Path

import cv2
import numpy as np

from .policy import NOT_JUDGED, OK, VIOLATION, Policy

GREY, GREEN, AMBER, RED = (200, 200, 200), (0, 180, 0), (0, 170, 255), (0, 0, 255)  # BGR
BLUE = (230, 150, 60)  # counted but not judged: neither compliant (green) nor waiting to be counted (grey)


def annotate(image: np.ndarray, result, policy: Policy | None = None) -> np.ndarray:
    """A copy of ``image`` with each face's box, label, score, track and size (its shorter side, px, as
    the model cards measure it) drawn on it: grey until the person is counted, then green, amber or red
    for ok, warning or violation, blue for a person counted without a verdict on the mask."""
    out = image.copy()
    for face in result.faces:
        x, y, w, h = face.box
        severity = OK if policy is None else policy.of(face.person)
        colour = (GREY if face.person is None else BLUE if face.person == NOT_JUDGED else GREEN if severity == OK
                  else RED if severity == VIOLATION else AMBER)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
        cv2.putText(out, f"{face.label} {face.score:.2f} #{face.track} {min(w, h)}px", (x, max(12, y - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out


def save_snapshot(folder: Path, image: np.ndarray, result, policy: Policy | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tracks = "-".join(str(f.track) for f in result.faces if f.person is not None) or "frame"
    path = Path(folder) / f"{stamp}-{tracks}.jpg"
    cv2.imwrite(str(path), annotate(image, result, policy))
    return path
