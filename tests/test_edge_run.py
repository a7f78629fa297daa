import json
import sqlite3

import cv2
import numpy as np
import pytest

from edge.cli.run import main as edge_run
from edge.images import read_image


@pytest.fixture(scope="module")
def face(mask_images):
    return cv2.resize(read_image(sorted((mask_images / "without_mask").glob("*.jpg"))[3]).bgr, (200, 200))


def walk_through(path, face, frames=60):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    for i in range(frames):
        frame = np.full((480, 640, 3), 80, np.uint8)
        x = 20 + i * 6
        frame[140:340, x:x + 200] = face
        writer.write(frame)
    writer.release()


def run(tmp_path, bundle, face_models, camera, *extra):
    return edge_run(["--camera", str(camera), "--model", str(bundle), "--detector", "yunet",
                     "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"),
                     "--detections", str(tmp_path / "d.jsonl"), *extra])


def test_video_walk_through_counts_one_person_and_logs_every_frame(tmp_path, bundle, face_models, face):
    video = tmp_path / "walk.avi"
    walk_through(video, face)
    assert run(tmp_path, bundle, face_models, video) == 0
    lines = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(60))
    with_faces = [line for line in lines if line["faces"]]
    assert len(with_faces) >= 55
    first = with_faces[0]["faces"][0]
    assert set(first) == {"box", "label", "score", "track"} and len(first["box"]) == 4
    assert {f["track"] for line in with_faces for f in line["faces"]} == {first["track"]}
    rows = sqlite3.connect(tmp_path / "counts.db").execute("SELECT label, track_frames FROM counts").fetchall()
    assert len(rows) == 1 and rows[0][1] == 3


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
    assert err.startswith("edge-run: error: no model manifest") and err.count("\n") == 1
    assert run(tmp_path, bundle, face_models, tmp_path / "no-such.mp4") == 1
    assert "no camera or file" in capsys.readouterr().err
