"""The figures the live view shows, as pure functions of what the frame loop published and the counts.

The aiming aid compares the faces the camera sees now with the face sizes the model was measured
accurate at: the per-size figures export writes into the manifest (``metrics.by_size``, the test
split's recall per label and size bucket, as the model card gives them).
"""

import statistics

from ..counts import group
from ..policy import Policy
from ..scoring import SIZE_BUCKETS

AIM_ACCURACY = 0.95  # a size bucket's accuracy, all labels pooled, that counts as "accurate"
AIM_MIN_FACES = 10  # a bucket with fewer test faces says too little either way


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


def today(rows, policy: Policy, labels: list[str]) -> dict:
    """Counts per label and compliance of ``rows`` ((ts, label), today's), and both per hour (local time)."""
    _, hours = group(rows, "hour", utc=False)
    counts = {label: 0 for label in labels}
    for _, label in rows:
        counts[label] = counts.get(label, 0) + 1
    by_hour = [{"hour": key[-5:], "people": sum(n.values()), "compliance": policy.compliance_percent(n)}
               for key, n in hours.items()]
    return {"counts": counts, "people": len(rows), "compliance": policy.compliance_percent(counts),
            "by_hour": by_hour}
