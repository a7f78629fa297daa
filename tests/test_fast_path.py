"""The fast path (config [speed]) on the real pipeline: YuNet, the shipped int8 model, SQLite.
It may skip work; it may not change a count."""

import numpy as np
import pytest

from edge.classifiers import load_classifier
from edge.counts import CountStore
from edge.detectors import create_detector
from edge.paths import DEFAULT_MODEL
from edge.pipeline import Pipeline

BACKGROUND = np.full((480, 640, 3), 80, np.uint8)


class CountingClassifier:
    """The shipped classifier, counting the faces it is asked to classify."""

    def __init__(self, inner):
        self.inner, self.faces = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def classify(self, crops):
        self.faces += len(crops)
        return self.inner.classify(crops)


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(DEFAULT_MODEL, "litert-int8")


@pytest.fixture(scope="module")
def detector(face_models):
    return create_detector("yunet", face_models)


def pipeline(detector, classifier, tmp_path, **speed):
    store = CountStore(tmp_path / f"counts-{len(list(tmp_path.iterdir()))}.db")
    return Pipeline(detector, CountingClassifier(classifier), store, **speed), store


def people_walking(face, people: int, frames_each: int, gap: int = 25, step: int = 4):
    """People crossing the doorway one after the other, empty frames between them."""
    for _ in range(people):
        for i in range(frames_each):
            frame = BACKGROUND.copy()
            x = 20 + i * step
            frame[140:340, x:x + 200] = face
            yield frame
        yield from (BACKGROUND.copy() for _ in range(gap))


FAST = {"detect_every": 3, "motion_gate": True, "settled": 0.9}


@pytest.mark.parametrize("people, frames_each", [(1, 100), (3, 60)])
def test_fastest_settings_count_exactly_what_every_frame_detection_counts(detector, classifier, face, tmp_path,
                                                                          people, frames_each):
    totals = {}
    for name, speed in (("full", {"settled": None}), ("fast", FAST)):
        pipe, store = pipeline(detector, classifier, tmp_path, **speed)
        for frame in people_walking(face, people, frames_each):
            pipe.process(frame)
        store.flush(force=True)
        totals[name] = (store.totals(), pipe.detections, pipe.classifier.faces)
    assert totals["fast"][0] == totals["full"][0] == {"without_mask": people}
    # ...with a fraction of the detector and classifier work.
    assert totals["fast"][1] < totals["full"][1] / 2.5
    assert totals["fast"][2] < totals["full"][2] / 5


def test_detection_every_third_frame_keeps_faces_at_their_tracked_boxes(detector, classifier, face, tmp_path):
    pipe, _ = pipeline(detector, classifier, tmp_path, detect_every=3)
    results = [pipe.process(frame) for frame in people_walking(face, 1, 30, gap=0, step=0)]
    assert pipe.detections == 10
    tracked = [r.faces for r in results]
    assert all(len(faces) == 1 for faces in tracked)
    assert len({faces[0].track for faces in tracked}) == 1
    assert tracked[1][0].box == tracked[0][0].box  # a skipped frame shows the last detected box


def test_motion_gate_skips_an_idle_doorway_and_opens_for_a_person(detector, classifier, face, tmp_path):
    pipe, store = pipeline(detector, classifier, tmp_path, motion_gate=True, max_misses=5)
    for _ in range(40):
        assert pipe.process(BACKGROUND.copy()).faces == []
    assert pipe.detections == 1  # looked once, nothing has changed since
    for frame in people_walking(face, 1, 30, gap=0):
        pipe.process(frame)
    assert store.totals() == {"without_mask": 1}
    looked = pipe.detections
    for _ in range(40):
        pipe.process(BACKGROUND.copy())
    # The person left: detection goes on until their track has ended (5 misses), then stops.
    assert looked + 6 <= pipe.detections <= looked + 8


def test_settled_people_are_not_classified_again(detector, classifier, face, tmp_path):
    frames = list(people_walking(face, 1, 40, gap=0, step=2))
    pipe, store = pipeline(detector, classifier, tmp_path, settled=0.9)
    labels = [pipe.process(frame).faces[0].label for frame in frames]
    assert pipe.classifier.faces == 3  # until counted at min_hits = 3, sure of the label from then on
    assert set(labels) == {"without_mask"} and store.totals() == {"without_mask": 1}
    every, _ = pipeline(detector, classifier, tmp_path, settled=None)
    for frame in frames:
        every.process(frame)
    assert every.classifier.faces == 40


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_motion_regions_count_the_same_people_searching_a_fraction_of_the_frame(name, classifier, face, face_models,
                                                                                tmp_path):
    detector = create_detector(name, face_models)
    totals, searched = {}, {}
    for label, speed in (("whole", {}), ("regions", {"motion_regions": True})):
        pipe, store = pipeline(detector, classifier, tmp_path, **speed)
        for frame in people_walking(face, 3, 60):
            pipe.process(frame)
        store.flush(force=True)
        totals[label], searched[label] = store.totals(), pipe.searched / pipe.detections
    assert totals["regions"] == totals["whole"] == {"without_mask": 3}
    assert searched["whole"] == 1.0 and searched["regions"] < 0.4
