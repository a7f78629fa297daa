import cv2
import numpy as np
import pytest

import train.faces as faces
from edge.crops import whole_image
from edge.detectors import create_detector
from edge.images import read_image
from train.dataset import Sample
from train.faces import PrepConfig, prepare, prepare_one


@pytest.fixture(scope="module")
def portrait(mask_images):
    """A real unmasked face that fills its picture (a tight crop)."""
    return read_image(sorted((mask_images / "without_mask").glob("*.jpg"))[0]).bgr


def scene_with(face_bgr, size=(480, 640)):
    """The face pasted small into a larger plain scene, as on a street photo."""
    scene = np.full((*size, 3), 90, np.uint8)
    small = cv2.resize(face_bgr, (160, 160))
    scene[200:360, 300:460] = small
    return scene


@pytest.mark.parametrize("detector", ["yunet", "ssd"])
def test_scene_is_cut_to_its_face_and_tight_crop_kept_whole(portrait, face_models, detector):
    config = PrepConfig(size=96, detector=detector, detector_dir=str(face_models))
    found = create_detector(detector, face_models)
    status, crop, face_px = prepare_one(scene_with(portrait), found, config)
    assert status == "face" and crop.shape == (96, 96, 3)
    assert 24 < face_px < min(portrait.shape[:2])  # the detected face's size, not the picture's
    # the crop is mostly face, not the flat grey background
    assert crop.std() > 25 and np.mean(np.abs(crop.astype(int) - 90) < 4) < 0.2
    status, crop, face_px = prepare_one(portrait, found, config)
    assert status == "tight" and face_px == min(portrait.shape[:2])
    expected = whole_image(portrait, 96)
    np.testing.assert_array_equal(crop, expected)


def test_image_without_face_is_kept_or_dropped_by_flag(face_models):
    blank = np.full((200, 200, 3), 128, np.uint8)
    detector = create_detector("yunet", face_models)
    status, crop, face_px = prepare_one(blank, detector, PrepConfig(size=64, no_face="keep"))
    assert status == "no_face" and crop.shape == (64, 64, 3) and face_px == 200
    status, crop, _ = prepare_one(blank, detector, PrepConfig(size=64, no_face="drop"))
    assert status == "no_face" and crop is None


def test_prepare_reports_bad_files_and_reuses_its_cache(tmp_path, portrait, face_models, monkeypatch):
    folder = tmp_path / "data" / "a"
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "good.jpg"), portrait)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nothing else")
    (folder / "notes.txt").write_text("not an image")
    cv2.imwrite(str(folder / "gray.png"), cv2.cvtColor(portrait, cv2.COLOR_BGR2GRAY))
    samples = [Sample(p, 0, f"a/{p.name}") for p in sorted(folder.iterdir())]
    config = PrepConfig(size=64, detector="yunet", detector_dir=str(face_models))
    prepared = prepare(samples, config, cache_dir=tmp_path / "cache", progress=False)
    by_name = {r["relpath"]: r for r in prepared.records}
    assert by_name["a/broken.jpg"]["status"] == "skipped" and "truncated" in by_name["a/broken.jpg"]["note"]
    assert by_name["a/notes.txt"]["status"] == "skipped"
    assert by_name["a/gray.png"]["note"] == "converted from grayscale"
    assert by_name["a/good.jpg"]["status"] == "tight"
    assert prepared.crops.shape == (2, 64, 64, 3)

    def no_detection(*args, **kwargs):
        raise AssertionError("a cached preparation must not run the detector")

    monkeypatch.setattr(faces, "create_detector", no_detection)
    again = prepare(samples, config, cache_dir=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(again.crops, prepared.crops)
    assert again.records == prepared.records



def test_implausible_detector_rows_are_dropped():
    """YuNet emitted (3.6e29, 4.9e29, 0, 0) on a 32x60 picture of the dataset, which stopped an
    export; rows like it must never reach the crop, the tracker or an export."""
    from edge.detectors.base import plausible

    rows = np.array([
        [10, 10, 20, 20, 0.9],  # kept
        [-5, -5, 10, 10, 0.9],  # partly off the frame: kept, the crop clips it
        [3.6e29, 4.9e29, 0, 0, 0.9],
        [2355.7, 3151.4, 0, 1e-25, 0.9],
        [np.nan, 1, 5, 5, 0.9],
        [1, 1, np.inf, 5, 0.9],
        [40, 10, 5, 5, 0.9],  # right of a 32-px-wide frame
        [1, 1, -4, 5, 0.9],
        [-2.76e9, -1.75e8, 5.52e9, 3.50e8, 0.9],  # over the whole frame, billions of px wide
        [-20, -20, 121, 50, 0.9],  # more than twice the frame's longer side
    ])
    np.testing.assert_array_equal(plausible(rows, 32, 60), rows[:2])
    assert len(plausible(np.array([[-10, -10, 120, 120, 0.9]]), 32, 60)) == 1  # a face at the lens


def test_eye_pairs_become_face_boxes_and_lone_or_mismatched_eyes_do_not():
    from edge.detectors.haar import pair_eyes

    left, right = [100, 100, 20, 20], [140, 102, 22, 22]
    faces = pair_eyes(np.array([left, right]))
    assert faces.shape == (1, 4)
    x, y, w, h = faces[0]
    distance = (140 + 11) - (100 + 10)
    assert (w, h) == (2.5 * distance, 2.5 * distance)
    assert x < 100 and x + w > 162 and y < 100 < y + h  # both eyes inside, in the upper half
    assert pair_eyes(np.array([left])).shape == (0, 4)
    assert pair_eyes(np.array([left, [140, 160, 20, 20]])).shape == (0, 4)  # not level
    assert pair_eyes(np.array([left, [300, 100, 20, 20]])).shape == (0, 4)  # too far apart
    assert pair_eyes(np.array([left, [140, 100, 45, 45]])).shape == (0, 4)  # sizes differ too much


@pytest.mark.parametrize("side", [150, 300, 450])
def test_eye_pairs_find_small_and_large_faces_at_their_size(side):
    """Pairs of eyes of 20 px and of 70 px must both become one face box of the right size, in the right place."""
    from edge.benchmark import FACE

    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[10:10 + side, 100:100 + side] = cv2.resize(cv2.imread(str(FACE)), (side, side), interpolation=cv2.INTER_AREA)
    faces = create_detector("haar").detect(frame)
    assert len(faces) == 1
    x, y, w, h = faces[0, :4]
    # in the bundled portrait the face is 0.46-0.48 of its width, centred at 0.40 across, eyes at 0.38 down
    assert 0.42 * side < w < 0.52 * side
    assert abs((x + w / 2 - 100) / side - 0.40) < 0.04 and abs((y + 0.4 * h - 10) / side - 0.38) < 0.04


@pytest.mark.parametrize("setup", ["eyes", "frontal"])
def test_haar_searches_a_region_only_for_the_face_widths_expected_there(setup):
    """The fast path looks for a tracked face at its own width: its own is found, larger ones (the costly
    part of a search) are skipped. (Smaller eye windows still fire on a face's eyes, so a search for
    smaller faces may find it too.)"""
    from edge.benchmark import FACE
    from edge.detectors.haar import HaarConfig, HaarDetector

    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[10:310, 100:400] = cv2.resize(cv2.imread(str(FACE)), (300, 300), interpolation=cv2.INTER_AREA)
    detector = HaarDetector(HaarConfig(setup=setup))
    (x, y, width, height, *_), = detector.detect(frame)

    def found(smallest, largest):
        region = np.array([[50, 0, 450, 400, smallest, largest]], np.float64)
        return detector.detect(frame, region)

    (same,) = found(width / 1.33, width * 1.33)
    np.testing.assert_allclose(same[:4], [x, y, width, height], atol=0.1 * width)  # fewer sizes, fewer neighbours
    assert len(found(width * 3, width * 4)) == 0


def test_haar_fallback_finds_masked_faces_about_as_often_as_unmasked(mask_images):
    """OpenCV's frontal cascade keys on nose and mouth; the eye-pair setup must not be blind to masks."""
    from edge.detectors.haar import HaarConfig, HaarDetector

    def found_share(detector, label):
        pictures = sorted((mask_images / label).glob("*.jpg"))[::8]
        return np.mean([len(detector.detect(read_image(p).bgr)) > 0 for p in pictures])

    eyes, frontal = create_detector("haar"), HaarDetector(HaarConfig(setup="frontal"))
    # 0.81-0.84 measured over samples of 500 and 1000 pictures; the frontal cascade 0.36-0.49
    assert found_share(eyes, "with_mask") >= 0.75 * found_share(eyes, "without_mask")
    assert found_share(frontal, "with_mask") < 0.5 * found_share(frontal, "without_mask")
