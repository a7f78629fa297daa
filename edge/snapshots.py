"""Annotated snapshots of counted people, for checking a new installation.

Off unless a folder is configured: a snapshot holds faces, and by default the device
stores counts only.
"""

import time
from pathlib import Path

import cv2
import numpy as np

from .policy import NOT_JUDGED, NOT_PEOPLE, OK, VIOLATION, Policy

GREY, GREEN, AMBER, RED = (200, 200, 200), (0, 180, 0), (0, 170, 255), (0, 0, 255)  # BGR
BLUE = (230, 150, 60)  # counted but not judged: neither compliant (green) nor waiting to be counted (grey)
DOOR = (255, 255, 0)  # the door's region and face size: cyan, a colour no face's box has


def annotate(image: np.ndarray, result, policy: Policy | None = None, door=None) -> np.ndarray:
    """A copy of ``image`` with each face's box, label, score, track and size (its shorter side, px, as
    the model cards measure it) drawn on it: grey until the person is counted (and for a passer-by), then
    green, amber or red for ok, warning or violation, blue for a person counted without a verdict on the
    mask. ``door`` (edge.door.Door), when given, is drawn too (``draw_door``)."""
    out = image.copy()
    if door is not None:
        draw_door(out, door)
    for face in result.faces:
        x, y, w, h = face.box
        severity = OK if policy is None else policy.of(face.person)
        colour = (GREY if face.person is None or face.person in NOT_PEOPLE else BLUE if face.person == NOT_JUDGED
                  else GREEN if severity == OK else RED if severity == VIOLATION else AMBER)
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 2)
        cv2.putText(out, f"{face.label} {face.score:.2f} #{face.track} {min(w, h)}px", (x, max(12, y - 6)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return out


def draw_door(image: np.ndarray, door) -> None:
    """The door on ``image``, in place: its counting region's outline (none for the whole frame) and, in the
    bottom left corner, a square as large as a face at the door (``count_px``)."""
    height, width = image.shape[:2]
    polygon = door.polygon(width, height)
    if polygon is not None:
        cv2.polylines(image, [np.rint(polygon).astype(np.int32)], True, DOOR, 2, cv2.LINE_AA)
    side = int(round(door.count_px))
    if side:
        top = height - 8 - side
        cv2.rectangle(image, (8, top), (8 + side, height - 8), DOOR, 2)
        cv2.putText(image, f"door: faces from {side} px", (8, max(12, top - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    DOOR, 1, cv2.LINE_AA)


def save_snapshot(folder: Path, image: np.ndarray, result, policy: Policy | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tracks = "-".join(str(f.track) for f in result.faces if f.person is not None) or "frame"
    path = Path(folder) / f"{stamp}-{tracks}.jpg"
    cv2.imwrite(str(path), annotate(image, result, policy))
    return path
