"""Tracking faces across frames so each person is counted once.

A track is counted once, when it has the evidence for it, not at its first frames:

- ``min_hits`` detections, so a one-frame flicker is nobody;
- the face check: the detector's score reached ``face_score`` on at least one frame. A wall
  pattern, a hand or the back of a head is found again frame after frame and outlasts any
  ``min_hits``; its score rarely reaches what a real face's does (docs/notes/2026-12-05-benchmark-record.md);
- ``judge_frames`` frames in which the face could be judged: ``judge_px`` wide and turned no more
  than ``max_turn`` (a far profile, or the back of a head YuNet takes for one, cannot show a mask).

Its label is the mean of the probabilities of its ``best_frames`` best-seen frames (largest,
sharpest and most face-like: ``quality``), not of the first, farthest and smallest ones. With a
model that has a ``not_face`` label, a track whose best frames (or, never seen well, all its frames)
the model calls no face is nobody: it waits for better frames and, if none come, ends uncounted. A
person who passed the face check but was never seen large enough to judge is counted as not
judged when their track ends, never as unmasked; compliance is taken over the people judged.
Someone standing ten seconds in the doorway is one track and one count.

Only the people of this door are counted (``[door]``, edge.door): a track becomes a person once its face
was at the door (in the counting region, ``count_px`` large, wholly in view) on ``min_hits`` frames and it
is walking in: the line through its sizes grew ``GROWN`` times beyond doubt, or it stood still at the door
(within ``STILL`` for ``STILL_FRAMES`` frames), or, as its track ends, it did not shrink beyond doubt. A track
that never came to the door (or came to it for a glimpse) is recorded, as it ends, as a passer-by; one that
came to it only walking away as leaving, or with ``count = "both"`` as a person not judged. Frames on which
the frame's edge cuts the face neither judge a mask nor bring it to the door.

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
from .decision import predict_labels
from .door import BOTH, GROWN, STILL, STILL_FRAMES, face_size
from .policy import LEAVING, PASSER_BY

# A face's box may differ from its track's last width, or from the width it was growing to, by this
# factor, plus 2% a frame since it was last seen: room for a box's own jitter and for a walker speeding
# up. The eye pairs' wrong boxes measured 1.76 times the face's a frame later, 1.57 four frames later.
MAX_RESIZE = 1.4
RESIZE_GROWTH = 1.02
MAX_GROWTH = 0.2  # log-width per frame a track may learn: a face filling the frame in half a second
# A box of another size that lies this much inside a track's box, or holds it, is that face framed another way
# (a fine-tuned YuNet boxed one masked face 77 px and 100-118 px on alternate frames: two tracks, two people).
NESTED = 0.8


@dataclass
class Track:
    id: int
    box: np.ndarray
    probability_sum: np.ndarray
    hits: int = 1
    misses: int = 0
    counted: bool = False
    label: int | None = None  # decided when counted; None: counted as not judged
    confidence: float = 0.0
    seen: int = 0  # the tracker's frame when the face was last detected
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # px per frame, of the box's centre
    growth: float = 0.0  # log of the box's width ratio per frame: a face walking up grows steadily
    best_score: float = 0.0  # the detector's highest score for this face
    judgeable: int = 0  # frames the face was large enough to judge
    best: list = field(default_factory=list)  # (quality, probabilities) of its best judgeable frames, best first
    no_face: bool = False  # the model called its best frames no face, on all ``best_frames`` of them
    at_door: int = 0  # frames its face was at the door on
    # The trend of its size: sums for a least-squares line of log(size) over the frames that did not cut it
    # (n, t, y, tt, ty, yy), and the first and last of those frames. One box is not the face's size: YuNet's boxes
    # of a face standing still vary by 7%, of a small face by 20%, Haar's by 40%; the line through all of them,
    # and how far it can be trusted, are.
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(6))
    sized_from: int = 0
    sized_to: int = 0
    approached: bool = False  # its face grew GROWN times, beyond doubt: walking in
    other: str | None = None  # recorded as no person of this door: PASSER_BY or LEAVING

    def sized(self, frame: int, size: float) -> None:
        """A frame on which the whole face was seen ``size`` px large: which way it walks."""
        y = np.log(max(size, 1e-9))
        if not self.sizes[0]:
            self.sized_from = frame
        self.sized_to = frame
        self.sizes += [1.0, frame, y, frame * frame, frame * y, y * y]
        change, doubt = self.change()
        self.approached |= change - doubt >= np.log(GROWN)

    def change(self) -> tuple[float, float]:
        """How much its face grew (log of the ratio; negative: shrank) from its first frame sized to its last,
        along the line through all of them, and twice that figure's standard error (inf: too few frames)."""
        n, t, y, tt, ty, yy = self.sizes
        stt, sty, syy = tt - t * t / max(n, 1), ty - t * y / max(n, 1), yy - y * y / max(n, 1)
        if n < 2 or stt <= 0:
            return 0.0, float("inf")
        span = self.sized_to - self.sized_from
        slope = sty / stt
        if n < 3:
            return float(slope * span), float("inf")
        residual = max(syy - slope * sty, 0.0) / (n - 2)
        return float(slope * span), float(2 * np.sqrt(residual / stt) * span)

    @property
    def receded(self) -> bool:
        """Walking away: its face shrank GROWN times, and never grew so."""
        return not self.approached and self.change()[0] <= -np.log(GROWN)

    @property
    def still(self) -> bool:
        """Standing at the door: over STILL_FRAMES frames or more, its face kept its size within STILL times,
        beyond doubt."""
        change, doubt = self.change()
        return self.sizes[0] >= STILL_FRAMES and abs(change) + doubt < np.log(STILL)

    def walking_in(self, ending: bool = False) -> bool:
        """Whether the face grew, or stood still at the door; as its track ends, whether, seen wholly on
        ``STILL_FRAMES // 2`` frames or more, it did not shrink beyond doubt (a face seen wholly on fewer came to
        the door for a glimpse; Haar's boxes of a face walking up and standing jitter so much that, taken at their
        word, they say it shrank as often as not)."""
        if self.approached or (not self.receded and self.still):
            return True
        change, doubt = self.change()
        return ending and not self.receded and self.sizes[0] >= STILL_FRAMES // 2 and change + doubt >= 0

    def predicted_width(self, frame: int) -> float:
        return float(self.box[2] * np.exp(self.growth * (frame - self.seen)))

    def predicted_box(self, frame: int) -> np.ndarray:
        """Where the face should be at ``frame``, if it kept its speed."""
        return self.box + np.concatenate([self.velocity * (frame - self.seen), [0.0, 0.0]])

    @property
    def mean_probabilities(self) -> np.ndarray:
        return self.probability_sum / self.hits

    def seen_well(self, quality: float, probabilities: np.ndarray, keep: int) -> None:
        """Add a judgeable frame; only the ``keep`` best are kept."""
        self.judgeable += 1
        self.best.append((quality, probabilities))
        self.best.sort(key=lambda frame: -frame[0])
        del self.best[keep:]


class Tracker:
    def __init__(self, violation_index: int | None, threshold: float | None, min_hits: int = 3,
                 max_misses: int = 10, min_iou: float = 0.25, face_score: float = 0.0, judge_px: float = 0.0,
                 max_turn: float = 1.0, judge_frames: int = 1, best_frames: int = 5,
                 not_face_index: int | None = None, count: str = BOTH):
        """``count``: edge.door's ENTERING or BOTH."""
        self.violation_index, self.threshold, self.not_face_index = violation_index, threshold, not_face_index
        self.count_both = count == BOTH
        self.min_hits, self.max_misses, self.min_iou = min_hits, max_misses, min_iou
        self.face_score, self.judge_px, self.max_turn = face_score, judge_px, max_turn
        self.judge_frames, self.best_frames = judge_frames, best_frames
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
        """Whether a track is not counted yet and may still be: one the face check turned down after
        ``min_hits`` detections, or one the model called no face on all its best frames, is looked at no more
        often than anybody counted (a poster stays for ever)."""
        return any(not t.counted and (t.hits < self.min_hits or (t.best_score >= self.face_score and not t.no_face))
                   for t in self.tracks)

    def _count(self, track: Track, min_hits: int, ending: bool = False, one_frame: bool = False) -> bool:
        """Count ``track`` if it has the evidence; as it ends, with the frames it has, or record it as no person
        of this door (``other``). ``one_frame``: a photo of its own, on which nobody walks either way."""
        if track.counted or track.hits < min_hits or track.best_score < self.face_score:
            return False
        if not ending and track.judgeable < self.judge_frames:
            return False
        mean = (np.mean([probabilities for _, probabilities in track.best], axis=0) if track.best
                else track.mean_probabilities)
        label = int(predict_labels(mean[None], self.violation_index, self.threshold, self.not_face_index)[0])
        if label == self.not_face_index:
            track.no_face = len(track.best) >= self.best_frames
            return False
        walking_in = one_frame or track.walking_in(ending)
        reached = track.at_door >= min_hits  # a glimpse of a face at the door is no one who came to it
        if not ending and not (reached and walking_in):
            return False
        track.counted = True
        if not reached:
            track.other = PASSER_BY
        elif not walking_in and not self.count_both:
            change, doubt = track.change()  # walking away, or at the door for a glimpse
            track.other = LEAVING if track.receded or change + doubt < 0 else PASSER_BY
        elif track.best and walking_in:  # someone seen only walking away showed no face to judge: not judged
            track.label, track.confidence = label, float(mean[label])
        return True

    def finish(self, min_hits: int | None = None, one_frame: bool = False) -> list[Track]:
        """End every track (the input ended, or edge-run stops): the tracks counted as they end. ``one_frame``:
        the tracks of a photo of its own, whose faces are at the door if they are where it is."""
        ended = [t for t in self.tracks
                 if self._count(t, self.min_hits if min_hits is None else min_hits, True, one_frame)]
        self.tracks = []
        return ended

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

    def _framed_otherwise(self, box: np.ndarray, assigned: list[Track | None]) -> Track | None:
        """The track not matched this frame whose face ``box`` frames otherwise (nested, another size), if any."""
        others = [t for t in self.tracks if t not in assigned]
        if not others:
            return None
        predicted = np.array([t.predicted_box(self.frame) for t in others])
        top_left = np.maximum(predicted[:, :2], box[:2])
        bottom_right = np.minimum(predicted[:, :2] + predicted[:, 2:], box[:2] + box[2:])
        inside = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        nested = inside / np.maximum(np.minimum(np.prod(predicted[:, 2:], axis=1), np.prod(box[2:])), 1e-9)
        best = int(np.argmax(nested))
        return others[best] if nested[best] >= NESTED else None

    def update(self, boxes: np.ndarray, probabilities: np.ndarray, min_hits: int | None = None,
               assigned: list[Track | None] | None = None,
               evidence: np.ndarray | None = None) -> tuple[list[Track], list[Track]]:
        """Match this frame's faces to tracks (or take ``assigned`` from match()) and update them.

        ``evidence``: rows (detector score, turn, quality, cut, at door) of the faces (the last two: see
        edge.door.Door.evidence); None: every face is a sure, frontal one at the door, judgeable if
        ``judge_px`` wide, its frames all alike.

        Returns the track of each face (in the order of ``boxes``) and the tracks counted by this
        frame, those whose track ended in it included.
        """
        min_hits = self.min_hits if min_hits is None else min_hits
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if evidence is None:
            evidence = np.tile([1.0, 0.0, 1.0, 0.0, 1.0], (len(boxes), 1))
        assigned = self.match(boxes) if assigned is None else list(assigned)
        for track in self.tracks:
            if track not in assigned:
                track.misses += 1
        ended = [t for t in self.tracks if t.misses > self.max_misses]
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        confirmed = [t for t in ended if self._count(t, self.min_hits, ending=True)]
        for index, track in enumerate(assigned):
            if track is None and (same := self._framed_otherwise(boxes[index], assigned)) is not None:
                # seen again, framed another way: still in view, its size, course and label as they were
                same.misses, assigned[index] = 0, same
                continue
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
            score, turned, quality, edge, at_door = evidence[index]
            track.best_score = max(track.best_score, float(score))
            track.at_door += bool(at_door)
            if not edge:  # the frame cut the face: its mask may be outside the picture, its size is not its own
                track.sized(self.frame, float(face_size(boxes[index])[0]))
                if boxes[index][2] >= self.judge_px and turned <= self.max_turn:
                    track.seen_well(float(quality), probabilities[index], self.best_frames)
            if self._count(track, min_hits):
                confirmed.append(track)
        self.frame += 1
        return assigned, confirmed
