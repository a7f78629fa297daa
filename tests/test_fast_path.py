"""The fast path (config [speed]) on the real pipeline: YuNet (Haar where named), the shipped int8 model, SQLite.
It may skip work; it may not change a count."""

import numpy as np
import pytest
from conftest import unmasked_face

from edge.counts import CountStore
from edge.detectors import create_detector
from edge.door import STILL_FRAMES
from edge.pipeline import Pipeline
from edge.runner import record

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


class Stored:
    """A pipeline whose counted people go into a real counts DB through the runner's own ``record``."""

    def __init__(self, pipeline, store):
        self.pipeline, self.store = pipeline, store

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def process(self, frame):
        result = self.pipeline.process(frame)
        record(self.store, result.counted)
        return result


def pipeline(detector, classifier, tmp_path, **speed):
    store = CountStore(tmp_path / f"counts-{len(list(tmp_path.iterdir()))}.db")
    return Stored(Pipeline(detector, CountingClassifier(classifier), **speed), store), store


def people_walking(face, people: int, frames_each: int, gap: int = 25, step: int = 4, walk_up: int = 10):
    """People walking up to the doorway (their face growing from 100 to 200 px over ``walk_up`` frames) and
    through it, one after the other, empty frames between them."""
    import cv2

    for _ in range(people):
        for i in range(frames_each):
            frame = BACKGROUND.copy()
            side = 200 - 100 * max(0, walk_up - i) // max(walk_up, 1)
            x, y = 20 + i * step + (200 - side) // 2, 140 + (200 - side) // 2
            frame[y:y + side, x:x + side] = face if side == 200 else cv2.resize(face, (side, side))
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


HAAR_FAST = {**FAST, "detect_every": 4, "motion_regions": True}  # Haar's fastest settings (README)


@pytest.mark.parametrize("walker", [3, 2])  # the eye pairs find [3] (the ``face``) in 41% of frames, [2] in all
def test_haar_fastest_settings_count_what_every_frame_detection_counts(classifier, mask_images, tmp_path, walker):
    """Detection on every 4th frame, searching tracked faces at their own width only, counts everyone
    every-frame detection counts, even a walker Haar finds in under half the frames: someone new is
    looked for on every frame until counted, and a missed face is matched where it was heading."""
    face = unmasked_face(mask_images, walker)
    detector = create_detector("haar")
    totals = {}
    for name, speed in (("full", {"settled": None}), ("fast", HAAR_FAST)):
        pipe, store = pipeline(detector, classifier, tmp_path, **speed)
        for frame in people_walking(face, 3, 60):
            pipe.process(frame)
        store.flush(force=True)
        totals[name] = store.totals()
    assert totals["fast"] == totals["full"] == {"without_mask": 3}


def test_detection_every_third_frame_keeps_faces_at_their_tracked_boxes(detector, classifier, face, tmp_path):
    pipe, _ = pipeline(detector, classifier, tmp_path, detect_every=3)
    results = [pipe.process(frame) for frame in people_walking(face, 1, 30, gap=0, step=0, walk_up=0)]
    # Every frame while the person is new (someone standing at the door is counted once they kept their size for
    # STILL_FRAMES frames), then every 3rd.
    assert [bool(r.counted) for r in results[:STILL_FRAMES + 1]] == [False] * (STILL_FRAMES - 1) + [True, False]
    assert pipe.detections == STILL_FRAMES + sum(frame % 3 == 0 for frame in range(STILL_FRAMES, 30))
    tracked = [r.faces for r in results]
    assert all(len(faces) == 1 for faces in tracked)
    assert len({faces[0].track for faces in tracked}) == 1
    assert tracked[4][0].box == tracked[3][0].box  # a skipped frame shows the last detected box


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
    frames = list(people_walking(face, 1, 40, gap=0, step=2, walk_up=0))
    pipe, store = pipeline(detector, classifier, tmp_path, settled=0.9)
    labels = [pipe.process(frame).faces[0].label for frame in frames]
    assert pipe.classifier.faces == STILL_FRAMES  # until counted (standing still), sure of the label from then on
    assert set(labels) == {"without_mask"} and store.totals() == {"without_mask": 1}
    every, _ = pipeline(detector, classifier, tmp_path, settled=None)
    for frame in frames:
        every.process(frame)
    assert every.classifier.faces == 40


@pytest.mark.parametrize("name", ["maskwatch", "yunet", "haar"])
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


class RecordingDetector:
    """A real detector, keeping the regions each search was asked to cover."""

    def __init__(self, inner):
        self.inner, self.searches = inner, []

    def detect(self, frame, regions=None):
        self.searches.append(regions)
        return self.inner.detect(frame, regions)


def test_a_larger_newcomer_beside_a_tracked_person_is_searched_for_at_any_size(classifier, mask_images, tmp_path):
    """Regions around a tracked face look only for that face's width; a change elsewhere, for any width."""
    import cv2

    face = unmasked_face(mask_images, 2)  # the eye pairs find it on every frame
    big = cv2.resize(face, (260, 260))
    frames = []
    for i in range(45):
        frame = BACKGROUND.copy()
        frame[140 + i % 3:340 + i % 3, 20:220] = face  # standing, swaying a little
        if i >= 15:  # a larger (nearer) person steps in on the right
            frame[120 + i % 4:380 + i % 4, 320:580] = big  # wholly in view
        frames.append(frame)
    totals = {}
    for label, speed in (("whole", {}), ("regions", {"motion_regions": True})):
        detector = RecordingDetector(create_detector("haar"))
        pipe, store = pipeline(detector, classifier, tmp_path, **speed)
        for frame in frames:
            pipe.process(frame)
        store.flush(force=True)
        totals[label] = store.totals()
    assert totals["regions"] == totals["whole"] == {"without_mask": 2}
    # Detection runs on every frame here: the 15th search is the one that sees the newcomer step in.
    sized, anywhere = sorted(detector.searches[15].tolist(), key=lambda region: np.isnan(region[4]))
    assert anywhere[0] >= 300 and np.isnan(anywhere[4:]).all()  # the change on the right: any width
    assert sized[2] < 320 and 100 < sized[4] < sized[5] < 250  # the standing person: their own width (175 px)
