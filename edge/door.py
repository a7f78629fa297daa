"""Where the door is: which faces in the picture belong to people of this door.

A camera at a doorway also sees the room or street behind it, people crossing far away, people
leaving with their backs to it, and faces the frame's edge cuts in half. ``[door]`` says what the door
is in the picture: a counting region (a polygon in fractions of the frame's width and height, by
default the whole frame) and the face size a person reaches at the door (``count_px``, the shorter
side of the face's box). The tracker (edge.tracker) makes a track a person only once its face has been
at the door: its centre inside the region, that large, and wholly in view, on ``[tracker] min_hits`` frames.

A face box that touches the frame's edge (or nearly: ``EDGE``) is cut by it: its mask may be outside the
picture, so that frame is not used to judge one, and it is not a frame at the door.

Pure functions of boxes and points, as the pipeline and the config both need them.
"""

from dataclasses import dataclass

import numpy as np

ENTERING, BOTH = "entering", "both"
# A box this close to the frame's edge is taken to be cut by it: 1% of the frame's shorter side, or, at the left,
# right and bottom edges, a tenth of the box's own size across that edge. YuNet boxes the visible part of a face
# the frame cuts in half: its box then ends 5-11 px (3-8% of its size) short of the edge. A face the top edge cuts
# short of its eyes still shows its mask, and a camera above a door sees faces there first: only a box touching
# that edge is cut. Near the bottom edge, a box as tall as a whole face's is a whole face whose chin comes close
# to it (a close-up): YuNet's boxes of wholly seen faces are 1.10-1.49 times as tall as wide (5th to 95th
# percentile, 972 boxes of held-out walk-up clips), of faces the bottom edge cuts 0.70-1.31 (median 0.88).
# A close-up (a box CLOSE_UP of the frame's height or more) touching the top edge with its eyes (a detector's
# landmarks) in the picture shows all its mask: YuNet boxes a face filling the frame from its hairline, above the
# picture (2 of 226 held-out walk-up clips). A smaller face there comes wholly into view as it walks up, and a false
# face at the top edge (a hat, 1 of 68 walk-away clips) was counted when every face with its eyes in view was whole.
EDGE, EDGE_SHARE, WHOLE_ASPECT, CLOSE_UP = 0.01, 0.1, 1.2, 0.5
# A face that grew this many times along its track (the line through its sizes: edge.tracker) is walking up;
# one that shrank so, having never grown so, is walking away. Someone walking up to a door from 3 m to 1 m
# grows 3 times.
GROWN = 1.25
# A face whose size kept within STILL times over STILL_FRAMES frames is someone standing at the door, counted
# without waiting for them to go. Someone walking away (the walk-through's walk-away clips shrink at least 2
# times in 30 frames) has shrunk 1.27 times in 10 frames.
STILL, STILL_FRAMES = 1.1, 10


def face_size(boxes: np.ndarray) -> np.ndarray:
    """A face's size as the door and the aiming aid measure it: its box's shorter side, px."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.minimum(boxes[:, 2], boxes[:, 3])


def cut(boxes: np.ndarray, width: int, height: int, eyes: np.ndarray | None = None) -> np.ndarray:
    """Whether each box touches (or crosses) the frame's edge; ``eyes``: the height of each face's eyes (NaN or
    None: unknown)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    eyes = np.full(len(boxes), np.nan) if eyes is None else np.asarray(eyes, np.float64).reshape(-1)
    touching = EDGE * min(width, height)
    across = np.maximum(touching, EDGE_SHARE * boxes[:, 2])  # to the left and right edges
    squat = boxes[:, 3] < WHOLE_ASPECT * boxes[:, 2]
    down = np.where(squat, np.maximum(touching, EDGE_SHARE * boxes[:, 3]), touching)  # to the bottom one
    top = (boxes[:, 1] <= touching) & ~((eyes > touching) & (boxes[:, 3] >= CLOSE_UP * height))
    return ((boxes[:, 0] <= across) | top | (boxes[:, 0] + boxes[:, 2] >= width - across)
            | (boxes[:, 1] + boxes[:, 3] >= height - down))


def inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Whether each point lies inside the polygon (even-odd rule; a point on a side may go either way)."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    polygon = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = points[:, :1], points[:, 1:]
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    spans = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return (spans & (x < at)).sum(axis=1) % 2 == 1


def _orientation(a, b, c) -> float:
    return float(np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])))


def _on(a, b, c) -> bool:
    """c on the segment a-b, given the three are in line."""
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _segments_meet(a, b, c, d) -> bool:
    o1, o2, o3, o4 = _orientation(a, b, c), _orientation(a, b, d), _orientation(c, d, a), _orientation(c, d, b)
    if o1 != o2 and o3 != o4 and 0 not in (o1, o2, o3, o4):
        return True
    return ((o1 == 0 and _on(a, b, c)) or (o2 == 0 and _on(a, b, d)) or (o3 == 0 and _on(c, d, a))
            or (o4 == 0 and _on(c, d, b)))


def crossing(polygon) -> tuple[int, int] | None:
    """The first two sides (side i runs from point i to the next) that cross, touch or, for neighbours, run
    back along each other; None for a simple polygon. Its points must all differ."""
    points = [tuple(map(float, p)) for p in polygon]
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            a, b, c, d = points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]
            if j == i + 1 or (i == 0 and j == n - 1):
                # neighbours share a corner, which is no crossing; a spike of no width is
                corner, one, other = (b, a, d) if j == i + 1 else (a, b, c)
                folds = _orientation(corner, one, other) == 0 and \
                    (one[0] - corner[0]) * (other[0] - corner[0]) + (one[1] - corner[1]) * (other[1] - corner[1]) > 0
                if folds:
                    return i, j
            elif _segments_meet(a, b, c, d):
                return i, j
    return None


def area(polygon) -> float:
    """The polygon's area (shoelace), in the units of its points squared."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    return float(abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))) / 2)


@dataclass(frozen=True)
class Door:
    """``region``: polygon points as fractions of the frame (None: the whole frame); ``count_px``: the face
    size a person reaches at the door; ``count``: ENTERING or BOTH."""

    region: tuple[tuple[float, float], ...] | None = None
    count_px: float = 0.0
    count: str = ENTERING

    def polygon(self, width: int, height: int) -> np.ndarray | None:
        """The region in a frame's pixels; None: the whole frame."""
        return None if self.region is None else np.asarray(self.region, np.float64) * [width, height]

    def evidence(self, boxes: np.ndarray, width: int, height: int, eyes: np.ndarray | None = None) -> np.ndarray:
        """Rows (cut, at door) for each face box on a ``width`` x ``height`` frame: cut by the frame's edge;
        at the door (its centre in the region, ``count_px`` large, wholly in view). ``eyes``: as cut()."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        edge = cut(boxes, width, height, eyes)
        near = face_size(boxes) >= self.count_px
        polygon = self.polygon(width, height)
        if polygon is not None:
            near &= inside(boxes[:, :2] + boxes[:, 2:] / 2, polygon)
        return np.column_stack([edge, near & ~edge]).astype(np.float64)
