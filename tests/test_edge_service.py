"""edge-run as a service: sd_notify, signals, kill -9, a lost camera, an unwritable DB."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from edge.counts import CountStore


def start(tmp_path, bundle, face_models, camera, *extra, env=None):
    command = [sys.executable, "-m", "edge.cli.run", "--camera", str(camera), "--model", str(bundle),
               "--detector", "yunet", "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"),
               "--summary-every", "1", *extra]
    return subprocess.Popen(command, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    yield sock, str(tmp_path / "notify")
    sock.close()


def drain(sock, seconds):
    """Every datagram that arrives within ``seconds``, with its arrival time."""
    got, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            got.append((time.monotonic(), sock.recv(4096).decode()))
        except TimeoutError:
            break
    return got


def test_notify_ready_watchdog_status_then_silence_on_stall_and_stopping_on_sigterm(
        tmp_path, bundle, face_models, walk_video, http_server, notify_socket):
    sock, path = notify_socket
    walk_video(tmp_path / "walk.avi", frames=150)
    url = http_server(tmp_path) + "/walk.avi"
    process = start(tmp_path, bundle, face_models, url, "--stall-timeout", "60",
                    env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "800000"})
    flowing = drain(sock, 6)
    messages = [m for _, m in flowing]
    assert messages[0].startswith("READY=1\nSTATUS=masked=")
    pings = [m for m in messages[1:] if m.startswith("WATCHDOG=1\nSTATUS=masked=")]
    assert len(pings) >= 5 and "fps=" in pings[-1]
    http_server.servers[0].shutdown()  # the stream goes away; the process keeps retrying
    http_server.servers[0].server_close()
    drain(sock, 2)  # frames already in flight
    assert not [m for _, m in drain(sock, 3) if "WATCHDOG=1" in m], "no WATCHDOG while no frame is processed"
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=10)
    assert code == 0 and time.monotonic() - sent < 2.0
    assert [m for _, m in drain(sock, 1)][-1].startswith("STOPPING=1")
    assert "camera " in process.stderr.read()  # the reconnect attempts were logged


def test_under_the_service_a_camera_that_comes_late_is_waited_for_with_the_watchdog_fed(
        tmp_path, bundle, face_models, walk_video, notify_socket):
    sock, path = notify_socket
    late = tmp_path / "late.avi"  # the camera's stream, not there yet when edge-run starts
    process = start(tmp_path, bundle, face_models, late, "--gpio", "none",
                    env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "800000"})
    waiting = drain(sock, 4)
    assert process.poll() is None, "it waits rather than exit"
    said = [m for _, m in waiting]
    assert said[0] == f"READY=1\nSTATUS=waiting for camera {late}"  # started: no start timeout fires
    assert len([m for m in said if m == f"WATCHDOG=1\nSTATUS=waiting for camera {late}"]) >= 4
    walk_video(tmp_path / "making.avi", frames=40)
    (tmp_path / "making.avi").rename(late)  # the camera appears
    deadline = time.monotonic() + 90
    while process.poll() is None:  # read what it tells systemd, as systemd does: a full socket would block it
        assert time.monotonic() < deadline
        drain(sock, 0.5)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert "unmasked=1" in out or "masked=1" in out  # the person walking up was counted
    tries = [line for line in err.splitlines() if f"waiting for camera {late}" in line]
    assert len(tries) >= 2 and "trying again in 1 s" in tries[0] and "trying again in 2 s" in tries[1]


def test_on_a_terminal_a_camera_that_is_not_there_is_one_line_at_once(tmp_path, bundle, face_models):
    process = start(tmp_path, bundle, face_models, tmp_path / "late.avi", "--gpio", "none",
                    env={"NOTIFY_SOCKET": ""})
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip().splitlines()[-1].startswith(f"edge-run: error: no camera or file at '{tmp_path / 'late.avi'}'")
    assert "waiting for camera" not in err


def test_camera_lost_reconnects_then_exits_non_zero(tmp_path, bundle, face_models, walk_video, http_server):
    walk_video(tmp_path / "walk.avi", frames=30)
    url = http_server(tmp_path) + "/walk.avi"
    process = start(tmp_path, bundle, face_models, url, "--stall-timeout", "3")
    time.sleep(4)
    http_server.servers[0].shutdown()
    http_server.servers[0].server_close()
    code = process.wait(timeout=30)
    err = process.stderr.read()
    assert code == 1
    assert err.count("lost; reopening") >= 2
    assert err.strip().splitlines()[-1].startswith(f"edge-run: error: no frame from {url} for 3 s")


def test_kill_9_during_writes_keeps_every_committed_count(tmp_path, bundle, face_models, face):
    import cv2
    import numpy as np

    folder = tmp_path / "people"
    folder.mkdir()
    scene = np.full((480, 640, 3), 80, np.uint8)
    scene[100:300, 200:400] = face
    for i in range(1000):  # each image an independent person: one count, one commit each
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), scene)
    process = start(tmp_path, bundle, face_models, folder)
    logged = 0
    while logged < 50:  # kill it while counts are being written
        logged += "counted track" in process.stderr.readline()
    process.kill()
    process.wait()
    logged += process.stderr.read().count("counted track")
    assert logged < 1000, "killed mid-run"
    db = sqlite3.connect(tmp_path / "counts.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("SELECT COUNT(*) FROM counts").fetchone()[0]
    assert logged <= rows <= logged + 1  # each count is committed before it is logged


def fill_disk(db_path):
    """Make every insert into an edge-run DB fail as a full disk does (a trigger: real SQLite, no mock)."""
    db = sqlite3.connect(db_path)
    db.execute("CREATE TRIGGER full BEFORE INSERT ON counts BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    db.commit()
    db.close()


def test_a_db_that_fails_mid_run_keeps_counts_in_memory_and_writes_them_when_it_can(tmp_path, caplog):
    now = [0.0]
    store = CountStore(tmp_path / "counts.db", retry_every=5.0, clock=lambda: now[0])
    fill_disk(tmp_path / "counts.db")
    store.add("with_mask", 0.9, 3)
    store.add("without_mask", 0.8, 4)
    assert store.totals() == {"with_mask": 1, "without_mask": 1} and len(store.pending) == 2
    assert "is full" in caplog.text
    db = sqlite3.connect(tmp_path / "counts.db")
    db.execute("DROP TRIGGER full")
    db.commit()
    assert not store.flush(), "waits retry_every before trying again"
    now[0] = 6.0
    assert store.flush()
    assert store.close() == 0
    rows = db.execute("SELECT label, track_frames FROM counts").fetchall()
    assert sorted(rows) == [("with_mask", 3), ("without_mask", 4)]


def test_detection_goes_on_while_the_db_fails_and_the_run_ends_in_an_error(tmp_path, bundle, face_models,
                                                                           walk_video):
    video = walk_video(tmp_path / "walk.avi", frames=40)
    CountStore(tmp_path / "counts.db").close()
    fill_disk(tmp_path / "counts.db")
    process = start(tmp_path, bundle, face_models, video, "--detections", str(tmp_path / "d.jsonl"))
    out, err = process.communicate(timeout=120)
    assert sum('"track"' in line for line in (tmp_path / "d.jsonl").read_text().splitlines()) >= 35
    assert "unmasked=1" in out or "masked=1" in out  # counted in memory all the same
    assert process.returncode == 1, "a run that lost counts never exits 0"
    assert err.strip().splitlines()[-1] == (f"edge-run: error: 1 count(s) of this run could not be written to "
                                            f"{tmp_path / 'counts.db'} and are lost — see the errors above")


def test_a_second_edge_run_on_one_database_is_refused_in_one_line(tmp_path, face_models, walk_video):
    video = walk_video(tmp_path / "walk.avi", frames=40)
    db = tmp_path / "counts.db"
    first = CountStore(db)  # an edge-run counting into it, as far as the file is concerned
    first.add("with_mask", 0.9, 5)
    command = [sys.executable, "-m", "edge.cli.run", "--camera", str(video), "--detector-dir", str(face_models),
               "--db", str(db), "--gpio", "none"]
    for check in ([], ["--check"]):
        result = subprocess.run(command + check, capture_output=True, text=True, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and lines[-1] == (
            f"edge-run: error: {db} is in use by another edge-run — stop it, or give --db another file (two runs "
            "counting into one database report each other's people)"), result.stderr
    first.add("without_mask", 0.8, 5)  # the first one goes on counting, nothing lost
    assert first.close() == 0
    rows = sqlite3.connect(db).execute("SELECT label FROM counts ORDER BY id").fetchall()
    assert rows == [("with_mask",), ("without_mask",)]
    # once the first one has stopped, the database is free again
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "holds masked=" in result.stdout


def obeying_file_modes(command: list[str]) -> list[str]:
    """``command`` run so that a read-only file is read-only to it: root, which may write anything, without
    the capabilities that let it. Root stays the checkout's owner, so the venv and the code are reachable
    wherever the checkout lies (another user could not enter a private one)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]


@pytest.mark.parametrize("kind", ["missing folder", "folder", "not sqlite", "foreign sqlite", "read-only", "damaged"])
def test_a_db_that_cannot_hold_the_counts_is_refused_at_start_and_by_check(kind, tmp_path, face_models, walk_video):
    folder = tmp_path
    video = walk_video(folder / "walk.avi", frames=10)
    db = folder / "counts.db"
    expected = {"missing folder": "for the counts database does not exist", "folder": "is a folder",
                "not sqlite": "is not an SQLite database", "foreign sqlite": "is another program's SQLite database",
                "read-only": "cannot be written (read-only", "damaged": "is damaged (not a readable SQLite"}[kind]
    if kind == "missing folder":
        db = folder / "no" / "counts.db"
    elif kind == "folder":
        db.mkdir()
    elif kind == "not sqlite":
        db.write_text("name,count\n")
    elif kind == "foreign sqlite":
        sqlite3.connect(db).execute("CREATE TABLE users (name TEXT)").connection.commit()
    elif kind == "read-only":
        CountStore(db).close()
        db.chmod(0o444)
    else:  # a year of counts, with pages in the middle of the file zeroed
        store = CountStore(db)
        for _ in range(2000):
            store.add("with_mask" * 10, 0.9, 3, ts=1.0)
        store.close()
        data = db.read_bytes()
        db.write_bytes(data[:4096] + bytes(8192) + data[12288:])
    before = db.read_bytes() if db.is_file() else None
    for check in ([], ["--check"]):
        command = [sys.executable, "-m", "edge.cli.run", "--camera", str(video), "--model", "default",
                   "--detector-dir", str(face_models), "--db", str(db), *check]
        result = subprocess.run(obeying_file_modes(command) if kind == "read-only" else command, capture_output=True,
                                text=True, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and lines[-1].startswith("edge-run: error: ") and expected in lines[-1], (
            check, result.stderr)
        assert "Traceback" not in result.stderr
    assert not (folder / "no").exists(), "a missing folder is not made"
    assert (db.read_bytes() if db.is_file() else None) == before, "a refused file is left as it was"
