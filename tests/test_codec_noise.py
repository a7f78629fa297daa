"""The same video decodes a few grey levels differently on another CPU (FFmpeg on a Pi's ARM differs
from x86 by up to 3 levels in every frame): the people counted must not change."""

import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest
from conftest import REPO

from edge.classifiers import load_classifier
from edge.detectors import create_detector
from edge.pipeline import Pipeline

FASTEST = {"haar": {"detect_every": 4, "motion_gate": True, "motion_regions": True},
           "yunet": {"detect_every": 3, "motion_gate": True, "motion_regions": True}}


@pytest.fixture(scope="module")
def demo_frames(tmp_path_factory):
    pytest.importorskip("skimage")
    clip = tmp_path_factory.mktemp("demo") / "doorway.mp4"
    subprocess.run([sys.executable, str(REPO / "tools" / "demo_clip.py"), str(clip)], check=True,
                   capture_output=True)
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    return frames


def decoded_elsewhere(frame: np.ndarray, rng, seed: int) -> np.ndarray:
    """``frame`` as another decoder might give it: each 8x8 block (a codec's unit) off by up to 3
    levels, or, for odd seeds, the whole frame brighter or darker by up to 3."""
    if seed % 2:
        offset = int(rng.integers(-3, 4))
    else:
        offset = np.kron(rng.integers(-3, 4, (frame.shape[0] // 8, frame.shape[1] // 8, 3)), np.ones((8, 8, 1), int))
    return np.clip(frame.astype(np.int16) + offset, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("detector", ["haar", "yunet"])
@pytest.mark.parametrize("fast", [False, True], ids=["every frame", "fastest"])
def test_counts_hold_when_every_frame_is_three_grey_levels_off(detector, fast, demo_frames, face_models):
    classifier = load_classifier("default")
    faces = create_detector(detector, face_models, threads=1)
    for seed in range(4):
        rng = np.random.default_rng(seed)
        pipeline = Pipeline(faces, classifier, settled=0.9, **(FASTEST[detector] if fast else {}))
        counted = Counter()
        for frame in demo_frames:
            counted.update(person.label for person in pipeline.process(decoded_elsewhere(frame, rng, seed)).counted)
        assert counted == {"without_mask": 1, "with_mask": 1}, seed
