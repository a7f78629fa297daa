"""YuNet on LiteRT: its TFLite twin finds the very faces cv2.FaceDetectorYN finds, and a wrong twin is refused."""

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import refused_in_one_line

from edge.detectors import create_detector, yunet
from edge.detectors.yunet_litert import LitertYunet
from edge.errors import ModelMismatchError
from edge.images import read_image

REPO = Path(__file__).resolve().parents[1]
STOCK = yunet.PACKAGED / "face_detection_yunet_2026may.onnx"
MASKWATCH = REPO / "edge" / "models" / "detectors" / "maskwatch" / "detector.onnx"


@pytest.fixture(scope="module")
def written_twin(tmp_path_factory) -> Path:
    """The stock ONNX's twin as ``python -m train.yunet_keras --tflite`` writes it."""
    folder = tmp_path_factory.mktemp("twin")
    model = folder / STOCK.name
    shutil.copyfile(STOCK, model)
    run = subprocess.run([sys.executable, "-m", "train.yunet_keras", "--tflite", str(model)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return model.with_suffix(".tflite")


def test_the_twin_finds_the_faces_opencv_finds_at_every_frame_size(written_twin, shared_dir):
    photos = sorted((shared_dir / "datasets" / "scenes-ilc" / "images").glob("*.jpg"))[3:200:12]
    litert = LitertYunet(written_twin, 0.5, 0.3, threads=1)
    compared = 0
    for path in photos:
        photo = read_image(path).bgr
        # a whole frame, a 16:9 one (padded to a multiple of 32, as OpenCV pads it), a motion region's crop
        for size in ((640, 480), (640, 360), (203, 157)):
            frame = cv2.resize(photo, size)
            opencv = cv2.FaceDetectorYN.create(str(STOCK), "", size, 0.5, 0.3, 5000)
            expected, found = (np.zeros((0, 15)) if f is None else f
                               for f in (opencv.detect(frame)[1], litert.detect(frame)))
            # a face scoring within float error of the floor may fall either side of it
            expected, found = (f[np.abs(f[:, 14] - 0.5) > 1e-3] for f in (expected, found))
            assert found.shape == expected.shape, (path.name, size)
            np.testing.assert_allclose(found, expected, atol=2e-3)
            compared += len(found)
    assert compared >= 20


def test_yunet_and_maskwatch_run_on_litert_where_the_twin_is_and_count_as_on_opencv(tmp_path, face):
    packaged = create_detector("yunet", tmp_path / "empty")
    assert packaged.runtime == "litert"
    fetched = tmp_path / "fetched"  # the packaged model fetched again into the detector folder: its twin serves
    fetched.mkdir()
    shutil.copyfile(STOCK, fetched / STOCK.name)
    assert create_detector("yunet", fetched).runtime == "litert"
    assert create_detector("maskwatch", tmp_path / "empty").runtime == "litert"
    other = tmp_path / "other"  # a YuNet file with no twin: OpenCV
    other.mkdir()
    shutil.copyfile(MASKWATCH, other / "face_detection_yunet_2099jan.onnx")
    opencv = create_detector("yunet", other)
    assert opencv.runtime == "opencv"
    litert = yunet.YunetDetector(yunet.YunetConfig(MASKWATCH.parent), model=MASKWATCH)
    assert litert.runtime == "litert"
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[150:150 + face.shape[0], 250:250 + face.shape[1]] = face
    expected, found = opencv.detect(frame), litert.detect(frame)
    assert len(expected) == 1
    np.testing.assert_allclose(found, expected, atol=1e-3)


def test_a_twin_of_another_model_or_a_damaged_one_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "face_detection_yunet_2099jan.onnx"
    shutil.copyfile(MASKWATCH, model)
    shutil.copyfile(STOCK.with_suffix(".tflite"), model.with_suffix(".tflite"))
    with pytest.raises(ModelMismatchError, match=r"twin .* written from another model — delete it"):
        create_detector("yunet", folder)
    model.with_suffix(".tflite").write_bytes(b"not a flatbuffer" * 100)
    with pytest.raises(ModelMismatchError, match=r"cannot be read by LiteRT"):
        create_detector("yunet", folder)
    refused_in_one_line("yunet", folder, "cannot be read by LiteRT")
