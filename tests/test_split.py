import cv2
import numpy as np
import pytest

from edge.images import read_image
from train.split import group_near_duplicates, image_hashes, stratified_group_split


def near_copies(bgr):
    """What the dataset's 'augmented' duplicates look like: relit, re-encoded, mirrored, trimmed."""
    h, w = bgr.shape[:2]
    _, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 50])
    return [
        cv2.convertScaleAbs(bgr, alpha=1.1, beta=12),
        cv2.imdecode(jpeg, cv2.IMREAD_COLOR),
        cv2.flip(bgr, 1),
        cv2.resize(bgr[h // 60: h - h // 60, w // 60: w - w // 60], (w, h)),
    ]


@pytest.fixture(scope="module")
def planted(mask_images):
    """40 distinct photos per class (every 40th file), each with 4 planted near-copies."""
    images, labels, origin = [], [], []
    for label, name in enumerate(("with_mask", "without_mask")):
        for k, path in enumerate(sorted((mask_images / name).glob("*.jpg"))[::40][:40]):
            bgr = read_image(path).bgr
            for copy in [bgr, *near_copies(bgr)]:
                images.append(copy)
                labels.append(label)
                origin.append(label * 1000 + k)
    hashes = np.array([image_hashes(i) for i in images], dtype=np.uint64)
    return hashes, np.array(labels), np.array(origin)


def test_planted_near_duplicates_share_a_group_and_a_split(planted):
    hashes, labels, origin = planted
    groups = group_near_duplicates([(hashes[:, 0], hashes[:, 1])], max_distance=8)
    splits = stratified_group_split(labels, groups, (0.7, 0.15, 0.15), seed=3)
    for photo in np.unique(origin):
        copies = origin == photo
        assert len(np.unique(groups[copies])) == 1, f"copies of photo {photo} were split up"
        assert len(np.unique(splits[copies])) == 1
    # distinct photos stay apart: almost every photo is its own group
    assert len(np.unique(groups)) >= 0.9 * len(np.unique(origin))


def test_split_is_stratified_and_reproducible(planted):
    hashes, labels, _ = planted
    groups = group_near_duplicates([(hashes[:, 0], hashes[:, 1])], max_distance=8)
    first = stratified_group_split(labels, groups, (0.7, 0.15, 0.15), seed=5)
    np.testing.assert_array_equal(first, stratified_group_split(labels, groups, (0.7, 0.15, 0.15), seed=5))
    assert not np.array_equal(first, stratified_group_split(labels, groups, (0.7, 0.15, 0.15), seed=6))
    for label in (0, 1):
        shares = np.bincount(first[labels == label], minlength=3) / np.sum(labels == label)
        np.testing.assert_allclose(shares, [0.7, 0.15, 0.15], atol=0.06)


def test_mirrored_copy_is_close_only_through_the_mirror_hash(planted):
    hashes, _, _ = planted
    original, mirror = hashes[0], hashes[3]  # photo 0 and its flipped copy
    direct = bin(int(original[0]) ^ int(mirror[0])).count("1")
    through_mirror = bin(int(original[1]) ^ int(mirror[0])).count("1")
    assert through_mirror <= 8 < direct
