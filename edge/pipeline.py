"""One frame through the chain: detect, crop, classify (one call), track, count."""

from dataclasses import dataclass

import numpy as np

from .crops import CropRule, crop_face
from .metrics import predict_labels
from .tracker import Tracker


@dataclass
class FaceResult:
    box: tuple[int, int, int, int]
    label: str  # this frame's classification
    score: float
    track: int
    person: str | None = None  # the label the person was counted with, once the track is confirmed

    def as_json(self) -> dict:
        return {"box": list(self.box), "label": self.label, "score": round(self.score, 4), "track": self.track}


@dataclass
class FrameResult:
    faces: list[FaceResult]
    counted: list[str]  # labels of the people counted in this frame

    def people_in_view(self) -> set[str]:
        """The labels of the counted people in this frame."""
        return {face.person for face in self.faces if face.person is not None}


class Pipeline:
    def __init__(self, detector, classifier, store, on_count=None, **tracking):
        """``tracking``: Tracker settings (min_hits, max_misses, min_iou); its labels come from the manifest."""
        manifest = classifier.manifest
        self.detector, self.classifier, self.store = detector, classifier, store
        self.labels = manifest.labels
        self.rule = CropRule(**manifest.crop)
        self.violation_index, self.threshold = manifest.violation_index, manifest.threshold
        self.tracker = Tracker(self.violation_index, self.threshold, **tracking)
        self.on_count = on_count

    def process(self, image: np.ndarray, independent: bool = False, lap=None) -> FrameResult:
        """``lap(stage)``, when given, is called as each stage ends (edge-bench times them)."""
        lap = lap or (lambda stage: None)
        if independent:
            self.tracker.reset()
        faces = self.detector.detect(image)
        lap("detect")
        boxes = faces[:, :4]
        crops = [crop_face(image, box, self.rule, self.classifier.size) for box in boxes]
        lap("crop")
        probabilities = self.classifier.classify(np.stack(crops)) if crops else np.zeros((0, len(self.labels)))
        lap("classify")
        tracks, confirmed = self.tracker.update(boxes, probabilities, min_hits=1 if independent else None)
        for track in confirmed:
            label = self.labels[track.label]
            self.store.add(label, track.confidence, track.hits)
            if self.on_count is not None:
                self.on_count(label, track)
        predicted = predict_labels(probabilities, self.violation_index, self.threshold)
        faces = [
            FaceResult(tuple(int(round(v)) for v in box), self.labels[p], float(probabilities[i, p]), track.id,
                       self.labels[track.label] if track.counted else None)
            for i, (box, p, track) in enumerate(zip(boxes, predicted, tracks, strict=True))
        ]
        return FrameResult(faces, [self.labels[track.label] for track in confirmed])
