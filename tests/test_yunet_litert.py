"""YuNet on LiteRT: its TFLite twin finds the very faces cv2.FaceDetectorYN finds, the maskwatch bundle's int8 twin
the same faces within a few pixels, and a wrong twin is refused."""

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import refused_in_one_line

from edge.detectors import bundle, create_detector, yunet
from edge.detectors.yunet_litert import LitertYunet
from edge.errors import ConfigError, ModelFileError, ModelMismatchError
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
    assert create_detector("maskwatch", tmp_path / "empty", runtime="litert").runtime == "litert"
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


def _corners(faces: np.ndarray) -> np.ndarray:
    return np.column_stack([faces[:, :2], faces[:, :2] + faces[:, 2:4]])


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box in ``a`` with every one in ``b``."""
    low, high = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area = lambda c: np.prod(c[:, 2:] - c[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_the_int8_twin_finds_the_faces_the_onnx_finds_on_real_frames(shared_dir):
    """Int8 moves boxes by a pixel or two and scores by a few hundredths, so it is held to the same faces, not
    to the same numbers: every face the ONNX is sure of (>= 0.7) found with IoU >= 0.75, nothing sure it lacks."""
    manifest, _ = bundle.load(bundle.PACKAGED)
    twin = bundle.int8_of(manifest, bundle.PACKAGED)
    assert twin is not None, "the packaged maskwatch bundle ships an int8 twin"
    int8 = LitertYunet(twin, 0.3, 0.3, threads=1)
    photos = sorted((shared_dir / "datasets" / "scenes-ilc" / "images").glob("*.jpg"))[5:300:10]
    compared = 0
    for path in photos:
        frame = cv2.resize(read_image(path).bgr, (640, 480))
        opencv = cv2.FaceDetectorYN.create(str(MASKWATCH), "", (640, 480), 0.3, 0.3, 5000)
        expected, found = (np.zeros((0, 15)) if f is None else f for f in (opencv.detect(frame)[1], int8.detect(frame)))
        for sure, other in ((expected, found), (found, expected)):
            sure = sure[sure[:, 14] >= 0.7]
            overlap = _iou(_corners(sure), _corners(other)) if len(other) else np.zeros((len(sure), 1))
            assert (overlap.max(axis=1, initial=0) >= 0.75).all(), path.name
        compared += int((expected[:, 14] >= 0.7).sum())
    assert compared >= 20


def test_the_detector_runtime_is_chosen_by_config_and_a_wrong_choice_is_one_line(tmp_path, face):
    empty = tmp_path / "empty"
    assert create_detector("maskwatch", empty).runtime == "litert"  # auto: int8 counts fewer people right
    for runtime in ("litert-int8", "litert", "opencv"):
        assert create_detector("maskwatch", empty, runtime=runtime).runtime == runtime
    assert create_detector("yunet", empty, runtime="opencv").runtime == "opencv"
    with pytest.raises(ConfigError, match=r"^\[detector\] runtime 'litert-int8': the yunet detector runs on litert or "
                                          r"opencv \(or auto\)$"):
        create_detector("yunet", empty, runtime="litert-int8")
    with pytest.raises(ConfigError, match="the haar detector runs on opencv"):
        create_detector("haar", empty, runtime="litert")
    float_only = tmp_path / "float-only"  # a bundle exported without an int8 twin (--no-int8)
    shutil.copytree(bundle.PACKAGED, float_only)
    manifest = bundle.load(float_only)[0]
    (float_only / manifest.int8.file).unlink()
    bundle.write(dataclasses.replace(manifest, int8=None), float_only)
    with pytest.raises(ModelFileError, match="holds no int8 twin of detector.onnx — use --detect-runtime litert"):
        create_detector("maskwatch", float_only, runtime="litert-int8")
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[150:150 + face.shape[0], 250:250 + face.shape[1]] = face
    faces = [create_detector("maskwatch", empty, runtime=r).detect(frame) for r in ("litert-int8", "opencv")]
    assert [len(f) for f in faces] == [1, 1]
    assert np.abs(faces[0][0, :4] - faces[1][0, :4]).max() < 4 and abs(faces[0][0, 4] - faces[1][0, 4]) < 0.05


def test_a_damaged_int8_twin_is_refused_in_one_line_and_opencv_still_runs_the_bundle(tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle.PACKAGED, damaged)
    twin = damaged / bundle.load(damaged)[0].int8.file
    data = bytearray(twin.read_bytes())
    data[len(data) // 2] ^= 0xFF
    twin.write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError, match="detector.int8.tflite does not match its manifest"):
        create_detector("maskwatch", damaged, runtime="litert-int8")
    refused_in_one_line("maskwatch", damaged, "does not match its manifest", "--detect-runtime", "litert-int8")
    assert create_detector("maskwatch", damaged).runtime == "litert"  # the float twin needs nothing of it
    foreign = tmp_path / "foreign"  # an int8 twin whose self-test faces are not the manifest's
    shutil.copytree(bundle.PACKAGED, foreign)
    manifest = bundle.load(foreign)[0]
    moved = [[row[0] + 25, *row[1:]] for row in manifest.int8.selftest]
    bundle.write(dataclasses.replace(manifest, int8=dataclasses.replace(manifest.int8, selftest=moved)), foreign)
    with pytest.raises(ModelMismatchError, match="self-test photo.* or use --detect-runtime litert"):
        create_detector("maskwatch", foreign, runtime="litert-int8")
