"""Tracking faces across frames so each person is counted once.

A track is confirmed after ``min_hits`` detections; it is counted at that moment, once, with
the label decided over every classification the track has had so far (the mean of its
probabilities), not over a single frame. Someone standing ten seconds in the doorway is one
track and one count.

A face is matched where its track is heading, not where it was last seen: each track keeps
the speed its face moved at, in pixels per frame (frames without a detection count too, through
``skip``, so detection on every k-th frame and on every frame mix). A detector that misses a walking face for a
few detections in a row (Haar's eye pairs on some faces, or any detector run on every k-th
frame only) would otherwise find it too far from its old box, start a second track and count
the person twice.
"""

from dataclasses import dataclass, field

import numpy as np

from .crops import box_centres, iou_matrix
from .metrics import predict_labels

# A face's box may differ from its track's last width, or from the width it was growing to, by this
# factor, plus 2% a frame since it was last seen: room for a box's own jitter and for a walker speeding
# up. The eye pairs' wrong boxes measured 1.76 times the face's a frame later, 1.57 four frames later.
MAX_RESIZE = 1.4
RESIZE_GROWTH = 1.02
MAX_GROWTH = 0.2  # log-width per frame a track may learn: a face filling the frame in half a second


@dataclass
class Track:
    id: int
    box: np.ndarray
    probability_sum: np.ndarray
    hits: int = 1
    misses: int = 0
    counted: bool = False
    label: int | None = None  # decided when counted
    confidence: float = 0.0
    seen: int = 0  # the tracker's frame when the face was last detected
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px per frame, of the box's centre
    growth: float = 0.0  # log of the box's width ratio per frame: a face walking up grows steadily

    def predicted_width(self, frame: int) -> float:
        return float(self.box[2] * np.exp(self.growth * (frame - self.seen)))

    def predicted_box(self, frame: int) -> np.ndarray:
        """Where the face should be at ``frame``, if it kept its speed."""
        return self.box + np.concatenate([self.velocity * (frame - self.seen), [0.0, 0.0]])

    @property
    def mean_probabilities(self) -> np.ndarray:
        return self.probability_sum / self.hits


class Tracker:
    def __init__(self, violation_index: int | None, threshold: float | None, min_hits: int = 3,
                 max_misses: int = 10, min_iou: float = 0.25):
        self.violation_index, self.threshold = violation_index, threshold
        self.min_hits, self.max_misses, self.min_iou = min_hits, max_misses, min_iou
        self.tracks: list[Track] = []
        self._next_id = 1
        self.frame = 0  # frames seen: one per update() or skip()

    def reset(self) -> None:
        self.tracks = []

    def in_view(self) -> list[Track]:
        """Tracks the last detection saw."""
        return [t for t in self.tracks if t.misses == 0]

    def skip(self) -> None:
        """A frame passed without a detection: faces kept moving."""
        self.frame += 1

    def someone_new(self) -> bool:
        """Whether a track is not counted yet."""
        return any(not t.counted for t in self.tracks)

    def match(self, boxes: np.ndarray) -> list[Track | None]:
        """The existing track of each box, or None for a new face; changes nothing."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        assigned: list[Track | None] = [None] * len(boxes)
        if self.tracks and len(boxes):
            overlap = iou_matrix(np.array([t.predicted_box(self.frame) for t in self.tracks]), boxes)
            # A box of another size is another detection, even where it overlaps: Haar's eye pairs now and
            # then pair an eye with an eyebrow or a shadow and give a box 1.7x the face's; taken as the
            # face's next box, it threw the track off its course and the person was counted twice.
            elapsed = np.array([self.frame - t.seen for t in self.tracks], dtype=np.float64)
            allowed = MAX_RESIZE * RESIZE_GROWTH ** np.maximum(elapsed - 1, 0)
            # Near the size it had, or the size it was growing to: a growth learnt from a detector's
            # jittering boxes must not turn the face's own next box away.
            unlike = np.ones(overlap.shape, dtype=bool)
            for widths in (np.array([t.box[2] for t in self.tracks]),
                           np.array([t.predicted_width(self.frame) for t in self.tracks])):
                ratio = boxes[None, :, 2] / np.maximum(widths[:, None], 1e-9)
                unlike &= (ratio > allowed[:, None]) | (ratio < 1 / allowed[:, None])
            overlap[unlike] = 0.0
            # Greedy by overlap: the clearest matches first.
            for t_index, b_index in zip(*np.unravel_index(np.argsort(-overlap, axis=None), overlap.shape),
                                        strict=True):
                if overlap[t_index, b_index] < self.min_iou:
                    break
                track = self.tracks[t_index]
                if assigned[b_index] is None and track not in assigned:
                    assigned[b_index] = track
        return assigned

    def update(self, boxes: np.ndarray, probabilities: np.ndarray, min_hits: int | None = None,
               assigned: list[Track | None] | None = None) -> tuple[list[Track], list[Track]]:
        """Match this frame's faces to tracks (or take ``assigned`` from match()) and update them.

        Returns the track of each face (in the order of ``boxes``) and the tracks that were
        confirmed, and so counted, by this frame.
        """
        min_hits = self.min_hits if min_hits is None else min_hits
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        assigned = self.match(boxes) if assigned is None else list(assigned)
        for track in self.tracks:
            if track not in assigned:
                track.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        confirmed = []
        for index, track in enumerate(assigned):
            if track is None:
                track = Track(self._next_id, boxes[index], np.zeros(probabilities.shape[1]), hits=0, seen=self.frame)
                self._next_id += 1
                self.tracks.append(track)
                assigned[index] = track
            else:
                moved = (box_centres(boxes[index]) - box_centres(track.box))[0] / (self.frame - track.seen)
                # Half old, half new: a detector's box jitters a few pixels from frame to frame.
                track.velocity = moved if track.hits == 1 else (track.velocity + moved) / 2
                grown = np.log(max(boxes[index][2], 1e-9) / max(track.box[2], 1e-9)) / (self.frame - track.seen)
                grown = grown if track.hits == 1 else (track.growth + grown) / 2
                track.growth = float(np.clip(grown, -MAX_GROWTH, MAX_GROWTH))
            track.box, track.misses, track.seen = boxes[index], 0, self.frame
            track.hits += 1
            track.probability_sum += probabilities[index]
            if not track.counted and track.hits >= min_hits:
                mean = track.mean_probabilities
                track.label = int(predict_labels(mean[None], self.violation_index, self.threshold)[0])
                track.confidence = float(mean[track.label])
                track.counted = True
                confirmed.append(track)
        self.frame += 1
        return assigned, confirmed
