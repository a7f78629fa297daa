import json
import os
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO

from edge.cli.run import main as edge_run
from edge.door import STILL_FRAMES


def run(tmp_path, bundle, face_models, camera, *extra):
    return edge_run(["--camera", str(camera), "--model", str(bundle), "--detector", "yunet",
                     "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"),
                     "--detections", str(tmp_path / "d.jsonl"), *extra])


def test_video_walk_through_counts_one_person_and_logs_every_frame(tmp_path, bundle, face_models, walk_video):
    video = tmp_path / "walk.avi"
    walk_video(video, frames=60)
    assert run(tmp_path, bundle, face_models, video) == 0
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(60))
    with_faces = [line for line in lines if line["faces"]]
    assert len(with_faces) >= 55
    first = with_faces[0]["faces"][0]
    assert set(first) == {"box", "label", "score", "track"} and len(first["box"]) == 4
    assert {f["track"] for line in with_faces for f in line["faces"]} == {first["track"]}
    rows = sqlite3.connect(tmp_path / "counts.db").execute("SELECT label, track_frames FROM counts").fetchall()
    # crossing the doorway at one size: someone standing at the door, counted once they kept it STILL_FRAMES frames
    assert len(rows) == 1 and rows[0][1] == STILL_FRAMES


def test_image_folder_frames_are_independent_and_corrupt_files_skipped(tmp_path, bundle, face_models, face):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.jpg", "c.jpg"):
        scene = np.full((480, 640, 3), 80, np.uint8)
        scene[100:300, 200:400] = face
        cv2.imwrite(str(folder / name), scene)
    (folder / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    assert run(tmp_path, bundle, face_models, folder) == 0
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [line["source"] for line in lines] == ["a.jpg", "c.jpg"]
    assert lines[0]["faces"][0]["track"] != lines[1]["faces"][0]["track"]
    count = sqlite3.connect(tmp_path / "counts.db").execute("SELECT COUNT(*) FROM counts").fetchone()[0]
    assert count == 2  # each image is a person of its own


def test_missing_model_and_camera_are_one_line_errors(tmp_path, bundle, face_models, capsys):
    assert run(tmp_path, tmp_path / "nothing", face_models, tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("edge-run: error: no model at") and err.count("\n") == 1
    (tmp_path / "empty").mkdir()
    assert run(tmp_path, tmp_path / "empty", face_models, tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("edge-run: error: no model manifest") and err.count("\n") == 1
    assert run(tmp_path, bundle, face_models, tmp_path / "no-such.mp4") == 1
    assert "no camera or file" in capsys.readouterr().err


class FakePicamera2:
    """The slice of picamera2's API that CsiCamera uses, producing a known colour."""

    def __init__(self):
        self.calls = []

    def create_video_configuration(self, main, lores, controls):
        self.calls.append("create")
        return {"main": main, "lores": lores, "controls": controls}

    def configure(self, config):
        self.config = config

    def start(self):
        self.calls.append("start")

    def capture_array(self, stream):
        width, height = self.config[stream]["size"]
        bgr = np.zeros((height, width, 3), np.uint8)
        bgr[..., 2] = 255  # pure red
        if stream == "lores":  # YUV420 arrives as planar I420
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        return bgr  # "RGB888" is B, G, R in memory

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")


def test_csi_camera_streams_and_channel_order():
    from edge.cameras.csi import CsiCamera

    fake = FakePicamera2()
    camera = CsiCamera(320, 240, fps=20, picamera2_class=lambda: fake)
    assert fake.config["lores"] == {"size": (320, 240), "format": "YUV420"}
    assert fake.config["controls"] == {"FrameRate": 20}
    frame = camera.read()
    assert frame.image.shape == (240, 320, 3) and frame.source == "csi"
    b, g, r = frame.image[120, 160].astype(int)
    assert r > 240 and g < 15 and b < 15  # red stays red: no R/B swap
    assert tuple(camera.snapshot()[0, 0]) == (0, 0, 255)
    camera.close()
    assert fake.calls == ["create", "start", "stop", "close"]


def test_csi_without_picamera2_says_how_to_install_it():
    from edge.cameras import open_camera
    from edge.errors import CameraError

    with pytest.raises(CameraError, match="apt install python3-picamera2.*--system-site-packages"):
        open_camera("csi")


APT_PACKAGES = Path("/usr/lib/python3/dist-packages")


def test_a_picamera2_built_against_another_numpy_is_one_line_saying_what_to_do(tmp_path, face_models):
    """Raspberry Pi OS 12: apt's picamera2 imports simplejpeg, a C extension built against apt's numpy 1.24; a venv
    with a numpy 2 of its own cannot load it. Here apt's bottleneck (Debian 12, built against the same numpy 1.24)
    is that C extension, imported by a stand-in picamera2 under this venv's numpy."""
    import subprocess
    import sys

    if not (APT_PACKAGES / "bottleneck").is_dir():
        if os.environ.get("CI"):
            pytest.fail("python3-bottleneck is missing: make system-deps installs it")
        pytest.skip("apt's python3-bottleneck is not installed")
    if np.__version__.split(".")[0] == "1":
        pytest.skip("this venv's numpy is 1.x, as apt's: no mismatch to show")
    package = tmp_path / "picamera2"
    package.mkdir()
    (package / "__init__.py").write_text(f"import sys\nsys.path.append({str(APT_PACKAGES)!r})\n"
                                         "import bottleneck  # noqa\n")
    result = subprocess.run([sys.executable, "-m", "edge.cli.run", "--camera", "csi", "--detector-dir", face_models,
                             "--db", tmp_path / "counts.db", "--gpio", "none"], capture_output=True, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    said = [line for line in result.stderr.splitlines() if "TensorFlow Lite" not in line]  # LiteRT's own INFO
    assert result.returncode == 1 and len(said) == 1, result.stderr
    assert said[0].startswith(f"edge-run: error: picamera2 cannot load with numpy {np.__version__}")
    assert "built against apt's numpy 1." in said[0] and said[0].endswith("keeps apt's numpy in the venv")


def test_http_stream_source(tmp_path, bundle, face_models, walk_video, http_server):
    walk_video(tmp_path / "walk.avi", frames=40)
    url = http_server(tmp_path) + "/walk.avi"
    assert run(tmp_path, bundle, face_models, url, "--max-frames", "30") == 0
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert len(lines) == 30 and all(line["source"] == url for line in lines)
    assert sum(bool(line["faces"]) for line in lines) >= 25


def test_sigterm_mid_run_flushes_counts_and_switches_every_output_off(tmp_path, bundle, face_models, walk_video):
    import os
    import signal
    import threading

    from gpiozero.pins.mock import MockFactory

    walk_video(tmp_path / "long.avi", frames=2000)
    factory = MockFactory()
    pins = {"--green-led": 17, "--red-led": 27, "--buzzer": 22, "--relay": 23}
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        code = edge_run(["--camera", str(tmp_path / "long.avi"), "--model", str(bundle), "--detector", "yunet",
                         "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"), "--min-hits", "2",
                         *[str(v) for item in pins.items() for v in item]], pin_factory=factory)
    finally:
        timer.cancel()
    assert code == 0
    lit = [factory.pin(p) for p in (17, 27) if any(s.state for s in factory.pin(p).states)]
    assert lit, "an LED showed the person"
    assert [factory.pin(p).state for p in (17, 27, 22)] == [0, 0, 0]
    assert factory.pin(23).state == 1  # active-low relay released
    rows = sqlite3.connect(tmp_path / "counts.db").execute("SELECT COUNT(*) FROM counts").fetchone()[0]
    assert rows >= 1
    factory.close()


def test_tampered_model_and_bad_config_are_one_line_errors(tmp_path, bundle, face_models, capsys):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    artifact = next(copy.glob("*.int8.tflite"))
    artifact.write_bytes(artifact.read_bytes()[:-100])
    assert run(tmp_path, copy, face_models, tmp_path) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sha256" in err
    (tmp_path / "bad.toml").write_text("[tracker]\nmin_hits = 'three'\n")
    assert run(tmp_path, bundle, face_models, tmp_path, "--config", str(tmp_path / "bad.toml")) == 1
    err = capsys.readouterr().err
    assert err.startswith("edge-run: error: ")
    assert "[tracker] min_hits must be a whole number, not 'three' — e.g. min_hits = 3" in err


def test_check_and_snapshots(tmp_path, bundle, face_models, walk_video, capsys):
    video = walk_video(tmp_path / "walk.avi", frames=20)
    assert run(tmp_path, bundle, face_models, video, "--check") == 0
    assert "check ok: " in capsys.readouterr().out
    assert not (tmp_path / "d.jsonl").exists()  # --check processes nothing
    assert run(tmp_path, bundle, face_models, video) == 0
    assert not list(tmp_path.glob("**/*.jpg")), "no image is stored unless snapshots are turned on"
    assert run(tmp_path, bundle, face_models, video, "--snapshots", str(tmp_path / "snaps")) == 0
    snaps = list((tmp_path / "snaps").glob("*.jpg"))
    assert len(snaps) == 1 and cv2.imread(str(snaps[0])).shape == (480, 640, 3)


def test_unusable_detector_files_sources_and_output_paths_are_one_line_errors(tmp_path, bundle, face_models, face,
                                                                                capsys):
    broken = tmp_path / "detectors"
    broken.mkdir()
    yunet = next(face_models.glob("face_detection_yunet_*.onnx"))
    (broken / yunet.name).write_bytes(yunet.read_bytes()[:5000])  # a truncated download
    empty = tmp_path / "empty"
    empty.mkdir()
    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.jpg"), face)
    (tmp_path / "a-file").write_text("")
    cases = [
        (["--camera", str(images), "--detector-dir", str(broken)], "the yunet detector files in"),
        (["--camera", str(empty)], f"no images in {empty}"),
        (["--camera", str(images), "--snapshots", str(tmp_path / "a-file")], "cannot write the outputs"),
    ]
    for flags, message in cases:
        code = edge_run(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                         "--db", str(tmp_path / "counts.db"), *flags])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and err[-1].startswith("edge-run: error: ") and message in err[-1], (flags, err)


def test_a_file_played_at_a_frame_rate_is_paced_like_a_camera(tmp_path, face):
    from edge.cameras import open_camera

    for name in "abc":
        cv2.imwrite(str(tmp_path / f"{name}.png"), face)
    now, slept = [100.0], []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        now[0] += seconds

    camera = open_camera(str(tmp_path), fps=10)
    camera.clock, camera.sleep = lambda: now[0], sleep
    assert camera.read().source == "a.png"
    now[0] += 0.03  # the loop spent 30 ms on the frame
    assert camera.read().source == "b.png" and slept == [0.07]
    now[0] += 0.5  # a slow frame: the next is not held back, and none is dropped
    assert camera.read().source == "c.png" and slept == [0.07]
    assert camera.read() is None
    assert open_camera(str(tmp_path)).__class__.__name__ == "ImageFolderCamera"  # no rate: as fast as it goes
