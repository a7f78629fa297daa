"""One frame through the chain: detect, crop, classify (one call), track, count.

The fast path (``SpeedConfig``) leaves out work that should not change a count: detection on
every k-th frame only once everyone in view is counted, with faces kept at their tracked boxes
in between; no detection at all while nobody is tracked and nothing has moved; a search of only
the changed parts of the frame and the tracked faces, those for the tracked face's width only;
no classification of a person who is already counted and whose label has settled.
"""

import time
from dataclasses import dataclass

import numpy as np

from .crops import CropRule, crop_face, detail, regions_area, search_regions
from .decision import predict_labels
from .door import Door
from .motion import MotionGate, changed_boxes, thumbnail
from .policy import NOT_JUDGED, NOT_PEOPLE
from .tracker import Track, Tracker

# Someone the detector missed and who has not moved since is searched for again at least this often.
FULL_FRAME_EVERY = 10  # detections
REGION_PAD = 0.25  # of a box's size on each side: faces move between detections
REGION_MIN_SIDE = 0.25  # of the frame's longer side: a changed patch may be only part of a face
MOSTLY = 0.5  # regions of any face size covering more of the frame than this: one whole-frame search costs less
# A tracked face is looked for at its own width, give or take this factor: at ten detections a
# second, someone walking at the camera changes size by under 10% between two of them, and eye
# pairs put a face's box within about 10% of its size.
RESIZE = 1.2


class Laps:
    """Milliseconds per stage of one frame; called with a stage's name as the stage ends."""

    def __init__(self):
        self.ms: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = (now - self.last) * 1000
        self.last = now


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    label: str  # this frame's classification
    score: float
    track: int
    person: str | None = None  # the label the person was counted with, once the track is confirmed

    def as_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4), "track": self.track}


@dataclass(frozen=True)
class Person:
    """Someone the pipeline counted: what the runner stores, the alerts sound for and the outputs show."""

    label: str  # a face label, or not_judged
    track: Track

    @property
    def confidence(self) -> float:
        return self.track.confidence

    @property
    def frames(self) -> int:
        return self.track.hits


@dataclass
class FrameResult:
    faces: list[FaceResult]
    counted: list[Person]  # who was counted on this frame: the people, and those recorded as no person of the door

    @property
    def people(self) -> list[Person]:
        """The people of this door counted on this frame (the alerts sound for them), passers-by aside."""
        return [person for person in self.counted if person.label not in NOT_PEOPLE]

    def people_in_view(self) -> set[str]:
        """The labels of the counted people in this frame."""
        return {face.person for face in self.faces if face.person is not None and face.person not in NOT_PEOPLE}


class Pipeline:
    def __init__(self, detector, classifier, detect_every: int = 1,
                 motion_gate: bool = False, motion_threshold: float = 0.003, motion_regions: bool = False,
                 settled: float | None = None, face_score: float | None = None, door: Door | None = None,
                 **tracking):
        """``tracking``: Tracker settings (TrackerConfig's); its labels come from the manifest, and
        ``face_score`` (None) from the detector. ``door``: who is a person of this door (None: anyone walking
        in anywhere in the frame). The other keywords are SpeedConfig's (the fast path); their defaults switch
        it off. It decides who is counted; storing them is the caller's."""
        manifest = classifier.manifest
        self.detector, self.classifier = detector, classifier
        self.labels = manifest.labels
        self.rule = CropRule(manifest.crop.margin, manifest.crop.square)
        self.violation_index, self.threshold = manifest.violation_index, classifier.threshold
        self.not_face_index = manifest.not_face_index
        self.door = door or Door()
        self.tracker = Tracker(self.violation_index, self.threshold, not_face_index=self.not_face_index,
                               face_score=getattr(detector, "face_score", 0.0) if face_score is None else face_score,
                               count=self.door.count, **tracking)
        self.detect_every, self.settled = detect_every, settled
        self.motion_gate, self.motion_regions = motion_gate, motion_regions
        self.motion = MotionGate(motion_threshold) if motion_gate or motion_regions else None
        self.frames = 0
        self.detections = 0  # frames the detector ran on (edge-bench reports the share)
        self.searched = 0.0  # share of frame area searched, summed over those frames

    def _should_detect(self, changed: np.ndarray | None) -> bool:
        # Nobody tracked, not even someone just missed: an unchanged frame holds nobody new.
        return not self.motion_gate or bool(self.tracker.tracks) or self.motion.moved(changed)

    def _search_regions(self, image: np.ndarray, changed: np.ndarray | None) -> np.ndarray | None:
        """The parts of the frame to search for faces, with the face widths expected in each; None: all of it."""
        if not self.motion_regions or changed is None or self.detections % FULL_FRAME_EVERY == 0:
            return None
        height, width = image.shape[:2]
        # Where each tracked face was last seen and where it is heading: if it stopped, it is still there.
        tracked = np.array([box for t in self.tracker.tracks
                            for box in (t.box, t.predicted_box(self.tracker.frame))]).reshape(-1, 4)
        patches = changed_boxes(changed, width, height)
        widths = np.vstack([np.full((len(patches), 2), np.nan),
                            np.column_stack([tracked[:, 2] / RESIZE, tracked[:, 2] * RESIZE])])
        # A changed patch already spans the motion since the detector last looked; a tracked box does not.
        pads = np.concatenate([np.zeros(len(patches)), np.full(len(tracked), REGION_PAD)])
        regions = search_regions(np.vstack([patches, tracked]), width, height,
                                 pads, REGION_MIN_SIDE * max(width, height), widths)
        return None if regions_area(regions, unbounded_only=True) > MOSTLY * width * height else regions

    def _is_settled(self, track: Track | None) -> bool:
        return (self.settled is not None and track is not None and track.counted
                and float(track.mean_probabilities.max()) >= self.settled)

    def process(self, image: np.ndarray, independent: bool = False, lap=None) -> FrameResult:
        """``lap(stage)``, when given, is called as each stage ends (edge-bench times them)."""
        lap = lap or (lambda stage: None)
        if independent:
            self.tracker.reset()
        # Someone new is looked at on every frame until counted: fewer looks would leave a face
        # the detector finds in only some frames short of min_hits, and that person uncounted.
        due = independent or self.frames % self.detect_every == 0 or self.tracker.someone_new()
        small = thumbnail(image) if due and self.motion is not None else None
        changed = None if small is None else self.motion.changes(small)  # one difference for gate and regions
        detect = independent or (due and self._should_detect(changed))
        self.frames += 1
        if not detect:  # no detect stage: its latency is of the frames the detector ran on
            self.tracker.skip()
            return self._tracked_only()
        regions = None if independent else self._search_regions(image, changed)
        self.detections += 1
        if self.motion is not None:
            self.motion.looked_at(small)
        faces = self.detector.detect(image, regions)
        self.searched += 1.0 if regions is None else regions_area(regions) / (image.shape[0] * image.shape[1])
        lap("detect")
        boxes = faces[:, :4]
        assigned = self.tracker.match(boxes)
        probabilities = np.zeros((len(boxes), len(self.labels)))
        # (score, turn, quality, cut, at door): how face-like, how turned away, how well seen (a settled face
        # needs no more judging), whether the frame's edge cuts it, whether it is at the door.
        evidence = np.column_stack([faces[:, 4:6], np.zeros(len(boxes)),
                                    self.door.evidence(boxes, image.shape[1], image.shape[0], faces[:, 6])])
        fresh = []
        for i, track in enumerate(assigned):
            if self._is_settled(track):
                # The track's own mean: adding it leaves the mean, and so the decided label, as it is.
                probabilities[i] = track.mean_probabilities
            else:
                fresh.append(i)
        crops = [crop_face(image, boxes[i], self.rule, self.classifier.size) for i in fresh]
        lap("crop")
        if crops:
            probabilities[fresh] = self.classifier.classify(np.stack(crops))
            evidence[fresh, 2] = evidence[fresh, 0] * np.array([detail(crop) for crop in crops])
        lap("classify")
        min_hits = 1 if independent else None
        tracks, confirmed = self.tracker.update(boxes, probabilities, min_hits=min_hits, assigned=assigned,
                                                evidence=evidence)
        if independent:  # a photo of its own: its faces are all the evidence there is
            confirmed += self.tracker.finish(min_hits, one_frame=True)
        return FrameResult(self._faces(boxes, probabilities, tracks), self._counted(confirmed))

    def finish(self) -> list[Person]:
        """The input ended or edge-run stops: the people in view who have the evidence (with the frames they
        have) are counted."""
        return self._counted(self.tracker.finish())

    def person(self, track: Track) -> str:
        return track.other or (NOT_JUDGED if track.label is None else self.labels[track.label])

    def _counted(self, tracks: list[Track]) -> list[Person]:
        return [Person(self.person(track), track) for track in tracks]

    def _tracked_only(self) -> FrameResult:
        """A frame the detector skipped: the people in view where the last detection saw them."""
        tracks = self.tracker.in_view()
        boxes = np.array([t.box for t in tracks]).reshape(-1, 4)
        probabilities = np.array([t.mean_probabilities for t in tracks]).reshape(-1, len(self.labels))
        return FrameResult(self._faces(boxes, probabilities, tracks), [])

    def _faces(self, boxes, probabilities, tracks) -> list[FaceResult]:
        predicted = predict_labels(probabilities, self.violation_index, self.threshold, self.not_face_index)
        return [
            FaceResult(tuple(int(round(v)) for v in box), self.labels[p], float(probabilities[i, p]), track.id,
                       self.person(track) if track.counted else None)
            for i, (box, p, track) in enumerate(zip(boxes, predicted, tracks, strict=True))
        ]
