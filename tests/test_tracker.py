import numpy as np

from edge.door import STILL_FRAMES
from edge.tracker import Tracker

WITH, WITHOUT = np.array([0.9, 0.1]), np.array([0.2, 0.8])


def walk(start_x, frames, step=2.0, y=100.0, size=80.0):
    """Boxes of one face crossing the frame, a few px a frame, with detector jitter."""
    rng = np.random.default_rng(int(start_x))
    return [np.array([start_x + i * step + rng.normal(0, 1.5), y + rng.normal(0, 1.5), size, size])
            for i in range(frames)]


def test_one_person_over_three_hundred_frames_is_counted_once():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    counted = []
    for frame, box in enumerate(walk(0, 300, step=1.0)):
        _, confirmed = tracker.update(box[None], WITHOUT[None])
        counted += [(frame, track) for track in confirmed]
    assert len(counted) == 1
    frame, track = counted[0]
    # someone at the door who neither walks up nor away is counted once they kept their size so long
    assert frame == STILL_FRAMES - 1 and track.label == 1


def test_two_people_side_by_side_are_two_counts_with_their_own_labels():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    counted = []
    for a, b in zip(walk(0, 200), walk(300, 200), strict=True):
        _, confirmed = tracker.update(np.stack([a, b]), np.stack([WITH, WITHOUT]))
        counted += confirmed
    assert sorted(t.label for t in counted) == [0, 1]


def test_short_dropouts_keep_the_track_and_brief_flickers_are_not_counted():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, max_misses=5)
    counted = []
    for i, box in enumerate(walk(0, 100)):
        if i % 7 in (3, 4):  # the detector misses the face now and then
            _, confirmed = tracker.update(np.zeros((0, 4)), np.zeros((0, 2)))
        else:
            _, confirmed = tracker.update(box[None], WITH[None])
        counted += confirmed
    _, flicker = tracker.update(np.array([[500, 300, 40, 40]]), WITHOUT[None])  # one false detection
    assert len(counted) == 1 and not flicker


def test_label_is_decided_over_the_track_not_one_frame():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    boxes = walk(0, STILL_FRAMES)  # counted on the last, standing still at the door
    probabilities = [WITH] * (STILL_FRAMES - 1) + [np.array([0.45, 0.55])]  # a last unsure frame
    for box, p in zip(boxes, probabilities, strict=True):
        _, confirmed = tracker.update(box[None], p[None])
    assert confirmed[0].label == 0


def test_a_walking_face_missed_for_several_detections_is_found_where_it_was_heading():
    """Detection on every 3rd frame of a 10 px/frame walk: 30 px between detections, and gaps of three
    missed detections (120 px) leave no overlap with the last box; the track's speed bridges them."""
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    seen = [0, 1, 5, 9, 10]  # the detections that found the face
    tracks = []
    for detection, box in enumerate(walk(0, 11, step=30.0)):
        if detection in seen:
            (track,), _ = tracker.update(box[None], WITHOUT[None])
            tracks.append(track.id)
        else:
            tracker.update(np.zeros((0, 4)), np.zeros((0, 2)))
    assert len(set(tracks)) == 1


def test_a_box_of_another_size_does_not_take_a_face_off_its_course():
    """One detection 1.6x the face's size over it (an eye paired with an eyebrow) is not the face's next
    box: the track keeps its course, takes the face back on the next frame, and the person is one count."""
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    boxes = walk(0, 40, step=6.0, size=130.0)
    boxes[20] = np.array([boxes[20][0] - 30, boxes[20][1] - 40, 210.0, 210.0])
    counted, ids = 0, set()
    for box in boxes:
        tracks, confirmed = tracker.update(box[None], WITHOUT[None])
        counted += len(confirmed)
        ids.add(tracks[0].id)
    assert counted == 1
    assert len(ids) == 1  # the wrong box holds the face's: the face framed otherwise, no one new


def test_one_face_framed_two_ways_on_alternate_frames_is_one_person():
    """A detector that boxes a masked face now 77 px (eyes and brow), now 1.5x that (the whole face) as a camera
    closes in gives boxes too unlike to continue each other's track: they are the same face, one person, whose
    size comes from its own boxes."""
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3)
    counted, ids = [], set()
    for frame in range(30):
        size = 70.0 + frame
        whole = np.array([300.0 - size / 2, 200.0 - size / 2, size, size])
        box = whole if frame % 4 else np.array([whole[0] - size / 4, whole[1] - size / 6, size * 1.5, size * 1.5])
        tracks, confirmed = tracker.update(box[None], WITH[None])
        counted += confirmed
        ids.add(tracks[0].id)
    counted += tracker.finish()
    assert len(ids) == 1 and len(counted) == 1 and counted[0].label == 0
    assert np.isclose(counted[0].box[2], 99.0)  # its last whole-face box, not the other framing


def steady(tracker, boxes, probabilities, scores, qualities=None):
    """Feed one face's boxes, at the door and not cut, with their probabilities and (score, quality) evidence; the
    tracks counted."""
    counted = []
    for i, (box, p) in enumerate(zip(boxes, probabilities, strict=True)):
        quality = box[2] if qualities is None else qualities[i]
        _, confirmed = tracker.update(box[None], p[None], evidence=np.array([[scores[i], 0.0, quality, 0.0, 1.0]]))
        counted += confirmed
    return counted


def test_a_static_pattern_the_face_check_turns_down_is_never_counted_nor_keeps_detection_busy():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, face_score=0.66, judge_px=32, judge_frames=3)
    boxes = [np.array([200.0, 150.0, 60.0, 60.0])] * 300  # a pattern on the wall: found on every frame
    counted = steady(tracker, boxes, [WITHOUT] * 300, [0.62] * 300)
    assert counted == [] and not tracker.someone_new()  # past min_hits it is looked at like anybody counted
    assert tracker.finish() == []
    # the same track with one frame scored like a face is a person
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, face_score=0.66, judge_px=32, judge_frames=3)
    (person,) = steady(tracker, boxes[:10], [WITHOUT] * 10, [0.62] * 5 + [0.8] + [0.62] * 4)
    assert person.label == 1


def test_a_face_first_seen_small_and_blurred_is_labelled_by_its_best_frames():
    """Far away, the model called the person masked; close up and sharp, unmasked: the close frames decide,
    and the person is counted once the judge_frames large frames are in, not at min_hits."""
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, judge_px=32, judge_frames=3, best_frames=3)
    widths = [16, 18, 20, 22, 24, 26, 28, 30, 40, 60, 80, 100, 120]
    boxes = [np.array([100.0, 100.0, w, w]) for w in widths]
    probabilities = [WITH] * 9 + [WITHOUT] * 4  # the 40 px frame was still blurred: masked, of low detail
    qualities = [1.0] * 8 + [2.0, 30.0, 40.0, 50.0, 60.0]
    counted = []
    for i, (box, p) in enumerate(zip(boxes, probabilities, strict=True)):
        _, confirmed = tracker.update(box[None], p[None], evidence=np.array([[0.9, 0.0, qualities[i], 0.0, 1.0]]))
        counted += [(i, t, [q for q, _ in t.best]) for t in confirmed]
    ((frame, person, judged_on),) = counted
    assert frame == 10 and person.label == 1  # the third frame at least 32 px wide
    assert judged_on == [40.0, 30.0, 2.0]
    # with the mean over every frame, as the tracker counted before, the small frames would have won
    assert int(np.argmax(person.mean_probabilities)) == 0


def test_someone_never_seen_well_enough_is_counted_not_judged_when_their_track_ends():
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, max_misses=2, face_score=0.66, judge_px=32)
    far = [np.array([300.0 + i, 50.0, 20.0, 20.0]) for i in range(20)]
    assert steady(tracker, far, [WITHOUT] * 20, [0.8] * 20) == []  # never 32 px: not counted in view
    ended = []
    for _ in range(3):  # gone: the track ends after max_misses
        ended += tracker.update(np.zeros((0, 4)), np.zeros((0, 2)))[1]
    assert [(t.label, t.counted) for t in ended] == [(None, True)]
    # and a clean stop counts who is still in view the same way
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, face_score=0.66, judge_px=32)
    steady(tracker, far[:5], [WITHOUT] * 5, [0.8] * 5)
    assert [t.label for t in tracker.finish()] == [None] and tracker.tracks == []


def test_a_back_of_head_track_is_counted_not_judged_never_unmasked():
    """YuNet scores some backs of heads like faces (0.8), but puts their landmarks as a far profile's: turned 2.5
    away on every frame, such a track has no frame to judge a mask on, whatever the model said."""
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, face_score=0.66, judge_px=32, max_turn=2.0,
                      judge_frames=3)
    head = [np.array([200.0 + 2 * i, 120.0, 70.0, 80.0]) for i in range(40)]
    counted = []
    for box in head:
        counted += tracker.update(box[None], WITHOUT[None], evidence=np.array([[0.8, 2.5, 50.0, 0.0, 1.0]]))[1]
    assert counted == []  # not counted unmasked while in view
    assert [(t.label, t.counted) for t in tracker.finish()] == [(None, True)]
    # the same person turning to the camera for three frames is judged on those
    tracker = Tracker(violation_index=1, threshold=0.5, min_hits=3, face_score=0.66, judge_px=32, max_turn=2.0,
                      judge_frames=3)
    turns = [2.5] * 30 + [0.2] * 3
    counted = []
    for box, turned in zip(head, turns, strict=False):
        counted += tracker.update(box[None], WITHOUT[None], evidence=np.array([[0.8, turned, 50.0, 0.0, 1.0]]))[1]
    assert [t.label for t in counted] == [1]


# A four-label model: with_mask, without_mask, mask_incorrect, not_face.
PATTERN, FACE = np.array([0.1, 0.25, 0.05, 0.6]), np.array([0.05, 0.8, 0.05, 0.1])


def test_a_track_the_model_calls_no_face_is_never_counted_however_face_like_its_score():
    """A pattern scored like a face (0.8) on every frame passes the face check; the not_face label turns it down
    while in view and when it ends, and once its best frames all say so, it keeps detection busy no more."""
    tracker = Tracker(violation_index=1, threshold=0.3, min_hits=3, face_score=0.66, judge_px=32, judge_frames=3,
                      best_frames=5, not_face_index=3)
    boxes = [np.array([200.0, 150.0, 60.0, 60.0])] * 300
    assert steady(tracker, boxes, [PATTERN] * 300, [0.8] * 300) == []
    assert not tracker.someone_new()
    assert tracker.finish() == []
    # p(without_mask) 0.25 is under the threshold of 0.3, but had it been over, no face is still no face
    tracker = Tracker(violation_index=1, threshold=0.2, min_hits=3, face_score=0.66, judge_px=32, judge_frames=3,
                      not_face_index=3)
    assert steady(tracker, boxes[:20], [PATTERN] * 20, [0.8] * 20) == [] and tracker.finish() == []


def test_a_real_face_first_taken_for_no_face_is_counted_once_its_best_frames_show_a_face():
    """Far and blurred, the model is unsure it is a face at all; the person is not counted then, and is
    counted, once, when the larger, sharper frames come in."""
    tracker = Tracker(violation_index=1, threshold=0.3, min_hits=3, face_score=0.66, judge_px=32, judge_frames=3,
                      best_frames=3, not_face_index=3)
    widths = [34, 36, 38, 40, 48, 56, 64, 72]
    boxes = [np.array([100.0, 100.0, w, w]) for w in widths]
    blurred = np.array([0.05, 0.1, 0.05, 0.8])
    probabilities = [blurred] * 4 + [FACE] * 4
    qualities = [1.0, 1.0, 1.0, 1.0, 30.0, 40.0, 50.0, 60.0]
    counted = []
    for i, (box, p) in enumerate(zip(boxes, probabilities, strict=True)):
        _, confirmed = tracker.update(box[None], p[None], evidence=np.array([[0.9, 0.0, qualities[i], 0.0, 1.0]]))
        counted += [(i, t) for t in confirmed]
    ((frame, person),) = counted
    assert frame == 5 and person.label == 1  # two of the three best frames are the face's
    assert tracker.finish() == []


def test_a_track_never_seen_well_and_called_no_face_on_all_its_frames_is_nobody_not_not_judged():
    tracker = Tracker(violation_index=1, threshold=0.3, min_hits=3, face_score=0.66, judge_px=32, max_turn=2.0,
                      not_face_index=3)
    head = [np.array([200.0 + 2 * i, 120.0, 70.0, 80.0]) for i in range(40)]
    for box in head:  # turned away on every frame: never judgeable
        assert tracker.update(box[None], PATTERN[None], evidence=np.array([[0.8, 2.5, 50.0, 0.0, 1.0]]))[1] == []
    assert tracker.finish() == []
    # the same turned-away track that the model takes for a face is a person not judged, as before
    tracker = Tracker(violation_index=1, threshold=0.3, min_hits=3, face_score=0.66, judge_px=32, max_turn=2.0,
                      not_face_index=3)
    for box in head:
        tracker.update(box[None], FACE[None], evidence=np.array([[0.8, 2.5, 50.0, 0.0, 1.0]]))
    assert [(t.label, t.counted) for t in tracker.finish()] == [(None, True)]
