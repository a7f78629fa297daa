"""Leakage-safe, stratified train/val/test split.

The dataset holds the same photo several times (augmented, re-encoded, mirrored). A random
split puts copies on both sides and the test score then measures memory, not faces. Images
are grouped by perceptual hash (a mirrored copy counts as the same photo) and whole groups
are assigned to splits, keeping each class's proportions.
"""

import hashlib

import cv2
import numpy as np

SPLITS = ("train", "val", "test")
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def phash(bgr: np.ndarray) -> np.uint64:
    """64-bit DCT perceptual hash: bit i is whether low-frequency coefficient i beats the median."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term measures brightness, not content
    return np.uint64(int("".join("1" if b else "0" for b in bits), 2))


def image_hashes(bgr: np.ndarray) -> tuple[np.uint64, np.uint64]:
    """Hashes of the image and of its mirror image."""
    return phash(bgr), phash(cv2.flip(bgr, 1))


def hamming(a: np.uint64, others: np.ndarray) -> np.ndarray:
    """Bit distance of one hash to many."""
    xor = np.bitwise_xor(np.asarray(others, np.uint64), np.uint64(a))
    return _POPCOUNT[xor.view(np.uint8).reshape(-1, 8)].sum(axis=1)


def group_near_duplicates(hash_sets: list[tuple[np.ndarray, np.ndarray]], max_distance: int) -> np.ndarray:
    """Group ids such that near-copies share one.

    ``hash_sets`` holds (hashes, mirrored hashes) pairs computed on different views of the
    same images, such as the whole picture and the face crop: two images within
    ``max_distance`` bits in any view, directly or mirrored, are the same photo. Grouping is
    transitive (union-find): a chain of near-copies forms one group.
    """
    n = len(hash_sets[0][0])
    parent = np.arange(n)

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for hashes, mirrored in hash_sets:
        for i in range(n - 1):
            distance = np.minimum(hamming(hashes[i], hashes[i + 1:]),
                                  hamming(mirrored[i], hashes[i + 1:]))
            for j in np.flatnonzero(distance <= max_distance) + i + 1:
                parent[root(j)] = root(i)
    roots = np.array([root(i) for i in range(n)])
    _, group_ids = np.unique(roots, return_inverse=True)
    return group_ids


def stratified_group_split(labels: np.ndarray, groups: np.ndarray, fractions=(0.7, 0.15, 0.15),
                           seed: int = 0) -> np.ndarray:
    """Assign every sample a split index (0 train, 1 val, 2 test) with no group straddling two.

    Groups go, largest first and in seeded random order among equals, to the split that is
    furthest below its target share of the group's majority class.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    fractions = np.asarray(fractions, dtype=np.float64) / np.sum(fractions)
    n_classes = labels.max() + 1
    targets = np.outer(np.bincount(labels, minlength=n_classes), fractions)  # class x split
    filled = np.zeros_like(targets)
    rng = np.random.default_rng(seed)
    unique_groups = rng.permutation(np.unique(groups))
    sizes = np.array([np.sum(groups == g) for g in unique_groups])
    assignment = np.empty(len(labels), dtype=np.int64)
    for group in unique_groups[np.argsort(-sizes, kind="stable")]:
        members = np.flatnonzero(groups == group)
        majority = np.bincount(labels[members], minlength=n_classes).argmax()
        deficit = (targets[majority] - filled[majority]) / np.maximum(targets[majority], 1e-9)
        split = int(np.argmax(deficit))
        assignment[members] = split
        np.add.at(filled, (labels[members], split), 1)
    return assignment


def held_out(name: str) -> bool:
    """A scene set's test photos, by name: about 19% of them (sha1's last hex digit below 3).

    Fixed by the name alone, so every tool (training, the scene evaluator, ``make walkthrough``)
    holds out the same photos without reading a run folder.
    """
    return hashlib.sha1(name.encode()).hexdigest()[-1] in "012"
