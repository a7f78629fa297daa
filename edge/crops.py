"""Pure numpy box maths and the face-crop rule shared by training and the device.

Boxes are ``(x, y, w, h)`` in pixels of the frame they were found in. The crop rule is
part of the model's contract (it is written into the manifest): a classifier trained on
crops with a 20% margin sees something else when the device cuts them tight.
"""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropRule:
    margin: float = 0.2  # fraction of the face box added on every side
    square: bool = True  # widen the shorter side so faces are not squashed by the resize

    def __post_init__(self):
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"crop margin must be within 0..1, got {self.margin}")


def expand_box(box, rule: CropRule) -> np.ndarray:
    """The region to cut for a face box under ``rule``, as float (x, y, w, h); may leave the frame."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2.0, y + h / 2.0
    w, h = w * (1.0 + 2.0 * rule.margin), h * (1.0 + 2.0 * rule.margin)
    if rule.square:
        w = h = max(w, h)
    return np.array([cx - w / 2.0, cy - h / 2.0, w, h])


def crop_face(frame_bgr: np.ndarray, box, rule: CropRule, size: int) -> np.ndarray:
    """Cut one face as an RGB ``size`` x ``size`` uint8 image.

    Parts of the region outside the frame are filled by repeating the border, so a face at
    the frame's edge keeps its place and proportions instead of being stretched.
    """
    x, y, w, h = np.rint(expand_box(box, rule)).astype(int)
    w, h = max(w, 1), max(h, 1)
    frame_h, frame_w = frame_bgr.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame_w), min(y + h, frame_h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {tuple(box)} lies outside the {frame_w}x{frame_h} frame")
    region = frame_bgr[y0:y1, x0:x1]
    pad = (y0 - y, y + h - y1, x0 - x, x + w - x1)
    if any(pad):
        region = cv2.copyMakeBorder(region, *pad, cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if region.shape[0] > size else cv2.INTER_LINEAR
    region = cv2.resize(region, (size, size), interpolation=interpolation)
    return cv2.cvtColor(region, cv2.COLOR_BGR2RGB)


def detail(crop: np.ndarray) -> float:
    """How much a face crop shows: the spread of its Laplacian. A small face blown up to the classifier's
    size, a blurred one and a dim one all show little; of one person's frames, the one showing most is
    the one to judge them by."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    return float(cv2.Laplacian(grey, cv2.CV_32F).std())


def scale_boxes(boxes: np.ndarray, factor: float) -> np.ndarray:
    """Map boxes found on a frame resized by ``factor`` back to the original frame."""
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / factor


def box_centres(boxes) -> np.ndarray:
    """Centre ``(x, y)`` of each box ``(x, y, w, h)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + boxes[:, 2:] / 2


def box_area(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes[:, 2], 0, None) * np.clip(boxes[:, 3], 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter_w = np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, 0, None], b[None, :, 0])
    inter_h = np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, 1, None], b[None, :, 1])
    inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
    union = box_area(a)[:, None] + box_area(b)[None] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_boxes(truth: np.ndarray, found: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """(truth index, detection index) pairs, each used once, the best overlaps first."""
    if len(truth) == 0 or len(found) == 0:
        return []
    iou = iou_matrix(truth, found)
    pairs, used_t, used_f = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        t, f = np.unravel_index(flat, iou.shape)
        if iou[t, f] < min_iou:
            break
        if t not in used_t and f not in used_f:
            pairs.append((int(t), int(f)))
            used_t.add(t)
            used_f.add(f)
    return pairs


def downscale_for_detection(frame: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink a frame so its longer side is at most ``max_side``; returns it and the factor."""
    height, width = frame.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    if factor >= 1.0:
        return frame, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA), factor


def search_regions(boxes, width: int, height: int, pad: float | np.ndarray, min_side: int,
                   face_widths=None) -> np.ndarray:
    """Regions ``(x0, y0, x1, y1, smallest, largest)`` covering every box grown by ``pad`` (a fraction
    of its size on each side; one for all boxes or one per box) and to at least ``min_side`` px,
    clipped to the frame, overlapping ones merged into one.

    The detector searches these instead of the whole frame; merging keeps a face that spans
    two grown boxes inside one region. ``face_widths``: per box, the ``(smallest, largest)`` face
    width expected in it, NaN where nothing is known (the default). A merged region expects the
    widths of all its members that have any: a change that touches a tracked face is taken to be
    that person moving. A region that expects nothing keeps NaN: search it for every size.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    widths = np.full((len(boxes), 2), np.nan) if face_widths is None else np.asarray(face_widths, np.float64)
    centre = box_centres(boxes)
    pad = np.broadcast_to(np.asarray(pad, dtype=np.float64), len(boxes))[:, None]
    half = np.maximum(boxes[:, 2:] * (0.5 + pad), min_side / 2)
    regions = list(np.hstack([centre - half, centre + half, widths.reshape(-1, 2)]))
    i = 0
    while i < len(regions):
        a = regions[i]
        j = next((j for j in range(i + 1, len(regions))
                  if a[0] < regions[j][2] and regions[j][0] < a[2] and a[1] < regions[j][3] and regions[j][1] < a[3]),
                 None)
        if j is None:
            i += 1
        else:  # the grown region may now reach one already passed: look again from the start
            b = regions.pop(j)
            # fmin/fmax skip NaN: a region of unknown widths takes on the other's
            regions[i] = np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:4], b[2:4]),
                                         [np.fmin(a[4], b[4]), np.fmax(a[5], b[5])]])
            i = 0
    out = np.asarray(regions, dtype=np.float64).reshape(-1, 6)
    out[:, :4] = np.rint(np.clip(out[:, :4], 0, [width, height, width, height]))
    return out[(out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])]


def regions_area(regions: np.ndarray, unbounded_only: bool = False) -> float:
    """Pixels covered by ``search_regions``' regions (they do not overlap); with ``unbounded_only``,
    only by those that expect no particular face width, which a detector searches for every size."""
    regions = np.asarray(regions, dtype=np.float64).reshape(-1, 6)
    if unbounded_only:
        regions = regions[np.isnan(regions[:, 4])]
    return float(np.sum((regions[:, 2] - regions[:, 0]) * (regions[:, 3] - regions[:, 1])))


def whole_image(bgr: np.ndarray, size: int) -> np.ndarray:
    """The whole picture as a square crop, centred, padded rather than stretched."""
    height, width = bgr.shape[:2]
    return crop_face(bgr, (0, 0, width, height), CropRule(margin=0.0, square=True), size)
