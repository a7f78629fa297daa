import numpy as np

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
    assert frame == 2 and track.label == 1  # counted as soon as it was confirmed, on the third frame


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
    boxes = walk(0, 3)
    probabilities = [WITH, WITH, np.array([0.45, 0.55])]  # a last unsure frame
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
    assert len(ids) == 2  # the wrong box got a track of its own, which never reached min_hits
