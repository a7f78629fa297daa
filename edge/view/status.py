"""The figures the live view shows, as pure functions of what the frame loop published and the counts.

The aiming aid compares the faces the camera sees now with the face sizes the model was measured
accurate at: the per-size figures export writes into the manifest (``metrics.by_size``, the test
split's recall per label and size bucket, as the model card gives them).
"""

import statistics

import cv2
import numpy as np

from ..counts import group
from ..policy import Policy, people
from ..scoring import SIZE_BUCKETS

AIM_ACCURACY = 0.95  # a size bucket's accuracy, all labels pooled, that counts as "accurate"
AIM_MIN_FACES = 10  # a bucket with fewer test faces says too little either way
# The people walking through a door are largest at it: once this many have been seen, the aiming aid proposes
# as the door's face size (count_px) this share of the median of their largest faces: those who come as close
# as most do are counted, someone crossing far behind is not.
PROPOSE_AFTER = 3
PROPOSE_SHARE = 0.8


def accurate_from(metrics: dict) -> int | None:
    """The face size (px) from which every size bucket of the model's test split reaches AIM_ACCURACY;
    0 when all of them do, None when the artifact gives no figures by size or no size is accurate."""
    table = metrics.get("by_size") or {}
    pooled = []
    for _, _, name in SIZE_BUCKETS:
        cells = [row[name] for row in table.values() if name in row]
        n = sum(cell["n"] for cell in cells)
        pooled.append(None if n < AIM_MIN_FACES else sum(cell["right"] for cell in cells) / n)
    for i, (low, _, _) in enumerate(SIZE_BUCKETS):
        rest = [accuracy for accuracy in pooled[i:] if accuracy is not None]
        if rest and all(accuracy >= AIM_ACCURACY for accuracy in rest):
            return int(low)
    return None


def aim(sizes, accurate: int | None) -> dict:
    """The aiming aid: the median size of the recent faces (shorter side, px) against ``accurate``."""
    sizes = list(sizes)
    median = round(statistics.median(sizes)) if sizes else None
    if median is None:
        hint = "no face seen yet: have someone stand where people will walk through"
    elif accurate is None:
        hint = (f"faces are {median} px; this model bundle gives no accuracy by face size to compare with "
                "(re-export it with this version)")
    elif accurate == 0:
        hint = f"faces are {median} px: the model was measured accurate at every face size"
    elif median < accurate:
        hint = f"faces are {median} px: move the camera closer or zoom in; the model is accurate from {accurate} px"
    else:
        hint = f"faces are {median} px: big enough, the model is accurate from {accurate} px"
    return {"median_face_px": median, "faces": len(sizes), "accurate_from_px": accurate, "hint": hint}


def door_status(door, largest, accurate: int | None) -> dict:
    """The door as the page shows it, and the aiming aid's proposal of ``count_px`` from ``largest``, the
    largest face size (px) of each person seen lately."""
    largest = [size for size in largest if size > 0]
    proposed = round(PROPOSE_SHARE * statistics.median(largest)) if len(largest) >= PROPOSE_AFTER else None
    now = round(door.count_px)
    if proposed is None:
        hint = (f"faces count from {now} px; have {PROPOSE_AFTER} or more people walk up to the door and the "
                "aid proposes a size from theirs")
    else:
        hint = (f"the last {len(largest)} people's faces were {round(statistics.median(largest))} px at their "
                f"largest (median): count_px = {proposed} counts those who come as close as most did (now {now})")
        if accurate and proposed < accurate:
            hint += f"; the model is accurate from {accurate} px: move the camera closer"
    region = None if door.region is None else [list(point) for point in door.region]
    return {"region": region, "count_px": now, "count": door.count, "proposed_count_px": proposed,
            "people_seen": len(largest), "hint": hint}


def today(rows, policy: Policy, labels: list[str]) -> dict:
    """Counts per label and compliance of ``rows`` ((ts, label), today's), and both per hour (local time)."""
    _, hours = group(rows, "hour", utc=False)
    counts = {label: 0 for label in labels}
    for _, label in rows:
        counts[label] = counts.get(label, 0) + 1
    by_hour = [{"hour": key[-5:], "people": people(n), "compliance": policy.compliance_percent(n)}
               for key, n in hours.items() if people(n)]  # an hour of passers-by only has no compliance
    return {"counts": counts, "people": people(counts), "compliance": policy.compliance_percent(counts),
            "by_hour": by_hour}


# Whether the picture can be judged at all. Measured on 120 held-out scene photos at a 640 px width
# (docs/notes/2026-12-07-view.md): their frame's mean grey level is >= 51 in 99 of 100 (dimmed to 15%: median
# 17); the faces of >= 40 px, each at 64x64 grey, have a Laplacian variance >= 94 in 95 of 100 (median 613),
# after a Gaussian blur of sigma 2 a median of 54.
DARK = 40.0  # the frame's mean grey level (0-255) below which it is too dark
BLURRED = 60.0  # the median sharpness of the recent faces below which they are too blurred
SHARP_SIDE = 64  # px: faces are compared at one size, so a big face is not "sharper" for being big
MIN_SHARP_FACE = 24  # px: a smaller face says nothing about focus


def brightness(image: np.ndarray) -> float:
    """The mean grey level of a BGR frame, 0-255 (on a thumbnail: the view asks once a second)."""
    small = cv2.resize(image, (160, max(1, round(160 * image.shape[0] / image.shape[1]))),
                       interpolation=cv2.INTER_AREA)
    return float(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).mean())


def sharpness(image: np.ndarray, box) -> float | None:
    """The variance of the Laplacian of the face at ``box`` (x, y, w, h), at SHARP_SIDE px grey; None when
    the face is too small or outside the frame."""
    x, y, w, h = (int(v) for v in box)
    crop = image[max(y, 0):y + h, max(x, 0):x + w]
    if min(crop.shape[:2]) < MIN_SHARP_FACE:
        return None
    grey = cv2.cvtColor(cv2.resize(crop, (SHARP_SIDE, SHARP_SIDE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def picture(level: float | None, sharp) -> dict:
    """The picture's verdict for the installer: too dark (``level``, the frame's grey level) before too
    blurred (``sharp``: the recent faces' sharpness; no faces, no verdict on focus)."""
    sharp = list(sharp)
    median = statistics.median(sharp) if sharp else None
    warning = None
    if level is not None and level < DARK:
        warning = (f"the picture is too dark (mean level {level:.0f} of 255, faces need {DARK:.0f}+): light the "
                   "doorway, or give the camera more exposure")
    elif median is not None and median < BLURRED:
        warning = (f"faces are blurred (sharpness {median:.0f}, {BLURRED:.0f}+ is sharp): focus the lens on where "
                   "people walk, or shorten the exposure if they are blurred by moving")
    return {"brightness": None if level is None else round(level, 1),
            "face_sharpness": None if median is None else round(median, 1), "warning": warning}
