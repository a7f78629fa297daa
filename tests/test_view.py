"""The live view (edge-run --view) against a real edge-run process, real sockets and a real browser."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.cli.run import main as edge_run
from edge.snapshots import BLUE, GREEN, GREY, RED, annotate
from edge.view.status import BLURRED, DARK, accurate_from, aim, brightness, picture, sharpness, today

REPO = Path(__file__).resolve().parents[1]


class EdgeRun:
    """edge-run in its own process, on the shipped model, with its log read as it runs."""

    def __init__(self, tmp_path, face_models, camera, *extra):
        self.log = tmp_path / "edge-run.log"
        self.detections = tmp_path / "d.jsonl"
        command = [sys.executable, "-m", "edge.cli.run", "--camera", str(camera), "--detector", "yunet",
                   "--detector-dir", str(face_models), "--db", str(tmp_path / "counts.db"), "--gpio", "none",
                   "--detections", str(self.detections), *extra]
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=self.log.open("w"), text=True)

    def url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"live view at (http://\S+/)", self.log.read_text())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                pytest.fail(f"edge-run ended before serving: {self.log.read_text()}")
            time.sleep(0.1)
        pytest.fail("edge-run did not start the live view")

    def running(self, timeout: float = 60.0) -> None:
        """Wait until the frame loop runs (the log says so)."""
        deadline = time.monotonic() + timeout
        while "running:" not in self.log.read_text():
            assert self.process.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    def wait(self, timeout: float = 120.0) -> int:
        out, _ = self.process.communicate(timeout=timeout)
        self.stdout = out
        return self.process.returncode

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def clip(tmp_path, walk_video):
    return walk_video(tmp_path / "walk.avi", frames=70)  # one crossing: the walk wraps at 70


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on, from /proc: its socket inodes in LISTEN state."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stream_parts(url: str, count: int) -> list[tuple[int, np.ndarray]]:
    """The first ``count`` parts of an MJPEG stream: (frame index, decoded image)."""
    parts = []
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        while len(parts) < count:
            headers = {}
            line = response.readline().strip()
            if not line:
                continue
            assert line == b"--frame"
            while (line := response.readline().strip()):
                key, _, value = line.decode().partition(":")
                headers[key.lower()] = value.strip()
            assert headers["content-type"] == "image/jpeg"
            data = response.read(int(headers["content-length"]))
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None, "a part of the stream is not a decodable JPEG"
            parts.append((int(headers["x-frame-index"]), image))
    return parts


def border_colour(image: np.ndarray, box) -> np.ndarray:
    """The median colour along a box's outline, where annotate draws it."""
    x, y, w, h = box
    edge = np.concatenate([image[y, x:x + w], image[y + h, x:x + w], image[y:y + h, x], image[y:y + h, x + w]])
    return np.median(edge, axis=0)


@pytest.mark.shared
def test_view_serves_page_stream_and_status_while_edge_run_counts(tmp_path, face_models, clip):
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "15", "--view", "0", "--view-fps", "10")
    try:
        url = run.url()
        assert url.startswith("http://127.0.0.1:")  # a bare port binds loopback
        status, page = get(url)
        assert status == 200 and b"shows faces live" in page and b"stream.mjpg" in page
        assert b"http://" not in page.replace(b"http://www.w3.org/2000/svg", b"")  # no external assets
        parts = stream_parts(url + "stream.mjpg", 4)
        status, body = get(url + "status.json")
        figures = json.loads(body)
        assert status == 200 and figures["detector"] == "yunet" and figures["backend"] == "litert-int8"
        assert set(figures["today"]["counts"]) == {"with_mask", "without_mask", "mask_incorrect", "not_judged",
                                                   "passer_by", "leaving"}
        assert figures["frames"] > 0 and figures["fps"] > 0 and "detect" in figures["stages_ms"]
        assert figures["aim"]["median_face_px"] > 100 and "px" in figures["aim"]["hint"]
        # a lit doorway and a sharp face: nothing to warn of; no MQTT configured, no link to show
        assert figures["picture"]["warning"] is None and figures["picture"]["face_sharpness"] > 60
        assert figures["links"] == {} and 0 <= figures["frame_age_s"] < 5
        assert get(url + "nothing")[0] == 404
        assert run.wait() == 0
    finally:
        run.kill()
    lines = [json.loads(line) for line in run.detections.read_text().splitlines()]
    drawn = 0
    for index, image in parts:
        for face in lines[index]["faces"]:
            colour = border_colour(image, face["box"])
            # grey until counted, then red: this person wears no mask
            assert min(np.abs(colour - GREY).max(), np.abs(colour - RED).max()) < 60, (index, colour)
            drawn += 1
    assert drawn >= 3
    assert "unmasked=1" in run.stdout


@pytest.mark.shared
def test_a_stalled_viewer_does_not_hold_up_the_frame_loop(tmp_path, face_models, clip):
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "30", "--view", "0", "--view-fps", "30")
    stalled = socket.socket()
    try:
        host, port = re.match(r"http://([^:]+):(\d+)/", run.url()).groups()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills at once, then never read
        stalled.connect((host, int(port)))
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        run.running()
        assert run.wait(timeout=60) == 0
    finally:
        stalled.close()
        run.kill()
    # every frame of the clip went through the loop while the viewer sat on its stream
    assert len(run.detections.read_text().splitlines()) == 70


@pytest.mark.shared
def test_view_off_listens_nowhere_and_on_listens_where_told(tmp_path, face_models, clip):
    off = EdgeRun(tmp_path, face_models, clip, "--fps", "15")
    try:
        off.running()
        assert listening_ports(off.process.pid) == set()
    finally:
        off.kill()
    on = EdgeRun(tmp_path, face_models, clip, "--fps", "15", "--view", "0")
    try:
        port = int(on.url().rsplit(":", 1)[1].strip("/"))
        assert listening_ports(on.process.pid) == {port}
    finally:
        on.kill()


@pytest.mark.shared
def test_non_loopback_needs_a_token_and_every_request_must_carry_it(tmp_path, face_models, clip, capsys):
    assert edge_run(["--camera", str(clip), "--detector", "yunet", "--detector-dir", str(face_models),
                     "--db", str(tmp_path / "c.db"), "--gpio", "none", "--view", "0.0.0.0:0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("edge-run: error: the live view shows faces") and "token_file" in err
    assert err.count("\n") == 1
    token = tmp_path / "token"
    token.write_text("s3cret-token-123\n")
    token.chmod(0o600)
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "15", "--view", "0.0.0.0:0",
                  "--view-token-file", str(token))
    try:
        port = run.url().rsplit(":", 1)[1].strip("/")
        base = f"http://127.0.0.1:{port}/"
        for path in ("", "status.json", "stream.mjpg"):
            assert get(base + path)[0] == 401
            assert get(base + path + "?token=wrong-token-456")[0] == 401
        assert get(base + "?token=s3cret-token-123")[0] == 200
        assert get(base + "status.json", {"Authorization": "Bearer s3cret-token-123"})[0] == 200
        assert "reached from the network" in run.log.read_text()
    finally:
        run.kill()


def test_aiming_aid_compares_faces_with_the_sizes_the_model_is_accurate_at():
    # recall by size as export writes it: weak under 32 px, accurate from there up
    def cell(right, n):
        return {"right": right, "n": n, "recall": right / n}

    by_size = {"with_mask": {"<32": cell(14, 20), "32-48": cell(29, 30), "48-64": cell(40, 40)},
               # three faces of 128 px and more say nothing, right or wrong
               "without_mask": {"<32": cell(15, 20), "32-48": cell(30, 30), ">=128": cell(0, 3)}}
    assert accurate_from({"by_size": by_size}) == 32
    assert accurate_from({}) is None
    assert accurate_from({"by_size": {"with_mask": {"<32": cell(20, 20)}}}) == 0
    assert accurate_from({"by_size": {"with_mask": {"<32": cell(20, 20), ">=128": cell(10, 20)}}}) is None
    hint = aim([20, 24, 30], 32)
    assert hint["median_face_px"] == 24 and hint["hint"].startswith("faces are 24 px: move the camera closer")
    assert "accurate from 32 px" in hint["hint"]
    assert aim([60, 70], 32)["hint"].startswith("faces are 65 px: big enough")
    assert aim([], 32)["median_face_px"] is None


def test_a_person_counted_but_not_judged_is_drawn_apart_from_the_masked(face):
    from edge.pipeline import FaceResult, FrameResult
    from edge.policy import Policy

    frame = np.full((480, 640, 3), 80, np.uint8)
    boxes = [(20, 40, 200, 200), (300, 40, 200, 200)]
    result = FrameResult([FaceResult(boxes[0], "with_mask", 0.9, 1, person="with_mask"),
                          FaceResult(boxes[1], "with_mask", 0.9, 2, person="not_judged")], [])
    drawn = annotate(frame, result, Policy({"with_mask": "ok", "without_mask": "violation"}))
    assert np.abs(border_colour(drawn, boxes[0]) - GREEN).max() < 30
    assert np.abs(border_colour(drawn, boxes[1]) - BLUE).max() < 30
    page = (REPO / "edge" / "view" / "page.html").read_text()
    assert ".not_judged {" in page and 'label === "not_judged" ? "not_judged"' in page


def test_the_picture_is_said_too_dark_or_its_faces_too_blurred(face):
    """On a real face: as it is, dimmed to 15%, and blurred as an unfocused lens blurs it."""
    scene = np.full((480, 640, 3), 120, np.uint8)
    scene[140:340, 220:420] = face
    box = (220, 140, 200, 200)
    sharp = sharpness(scene, box)
    assert sharp >= BLURRED and brightness(scene) >= DARK
    assert picture(brightness(scene), [sharp])["warning"] is None
    dark = (scene * 0.15).astype(np.uint8)
    said = picture(brightness(dark), [sharpness(dark, box)])
    assert said["brightness"] < DARK and said["warning"].startswith("the picture is too dark")
    blurred = cv2.GaussianBlur(scene, (0, 0), 8)  # 2.5 px at the 64 px it is judged at
    said = picture(brightness(blurred), [sharpness(blurred, box)])
    assert said["face_sharpness"] < BLURRED and said["warning"].startswith("faces are blurred")
    # no face: nothing is said about focus (an empty doorway's plain wall is not a blurred picture)
    assert picture(brightness(scene), [])["warning"] is None and picture(None, [])["face_sharpness"] is None
    assert sharpness(scene, (0, 0, 10, 10)) is None


def test_today_counts_and_compliance_per_hour():
    from edge.policy import Policy

    policy = Policy({"with_mask": "ok", "without_mask": "violation", "mask_incorrect": "warning"})
    base = time.mktime((2026, 12, 2, 9, 10, 0, 0, 0, -1))
    rows = [(base, "with_mask"), (base + 60, "without_mask"), (base + 3600, "with_mask"),
            (base + 3700, "mask_incorrect")]
    figures = today(rows, policy, ["with_mask", "without_mask", "mask_incorrect"])
    assert figures["counts"] == {"with_mask": 2, "without_mask": 1, "mask_incorrect": 1}
    # percent, as MQTT's state and edge-report give it: one unit everywhere
    assert figures["compliance"] == 50.0 and figures["people"] == 4
    assert [(h["hour"], h["people"], h["compliance"]) for h in figures["by_hour"]] == [("09:00", 2, 50.0),
                                                                                        ("10:00", 2, 50.0)]


@pytest.mark.shared
def test_check_snapshot_writes_the_annotated_frame_and_says_if_faces_are_big_enough(tmp_path, face_models, face,
                                                                                    capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    scene = np.full((480, 640, 3), 80, np.uint8)
    scene[140:340, 220:420] = face
    cv2.imwrite(str(folder / "door.png"), scene)
    shot = tmp_path / "aim.jpg"
    common = ["--camera", str(folder), "--detector", "yunet", "--detector-dir", str(face_models),
              "--db", str(tmp_path / "c.db"), "--gpio", "none"]
    assert edge_run([*common, "--check", "--snapshot", str(shot)]) == 0
    out = capsys.readouterr().out
    assert f"snapshot {shot}: 1 face(s); faces are" in out
    image = cv2.imread(str(shot))
    assert image.shape == scene.shape and np.abs(image.astype(int) - scene).max() > 100  # drawn on
    assert not (tmp_path / "c.db").exists()  # a check counts nobody and leaves nothing behind
    assert edge_run([*common, "--snapshot", str(shot)]) == 1
    assert "--snapshot goes with --check" in capsys.readouterr().err
    assert edge_run([*common, "--check", "--snapshot", str(tmp_path / "no" / "x.jpg")]) == 1
    said = capsys.readouterr()
    assert "not an existing folder" in said.err and "check ok" not in said.out  # no "ok" before the failure


def headless_chromium(tmp_path, wait_ms: int) -> list[str]:
    from browser import chromium_path

    return [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900", f"--timeout={wait_ms}"]


@pytest.mark.shared
def test_a_real_browser_shows_the_stream_and_the_counts(tmp_path, face_models, walk_video):
    browser = headless_chromium(tmp_path, 4000)
    clip = walk_video(tmp_path / "long.avi", frames=600)  # 60 s at 10 fps: time for two browser runs
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "10", "--view", "0")
    try:
        url = run.url()
        stream_parts(url + "stream.mjpg", 1)  # the stream has a frame to show
        shot = tmp_path / "view.png"
        subprocess.run([*browser, f"--screenshot={shot}", url], check=True, capture_output=True, timeout=90)
        dom = subprocess.run([*browser, "--dump-dom", url], check=True, capture_output=True, text=True,
                             timeout=90).stdout
    finally:
        run.kill()
    assert re.search(r'id="people">\d+<', dom) and "unmasked" in dom and "frames/s" in dom
    assert re.search(r'id="fps">[1-9]', dom), "the page did not fill in the status"
    assert '<td class="not_judged">not judged</td>' in dom and "MQTT: off" in dom
    assert '<div id="stale" role="alert" hidden=""></div>' in dom  # a live edge-run is not stale
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (900, 1280)
    stream = image[60:520, 16:656]  # where the page puts the 640-px stream
    assert stream.std() > 20, "the stream area of the screenshot is blank"



@pytest.mark.shared
def test_the_page_says_stale_when_edge_run_stops_answering_and_shows_the_brokers_state(tmp_path, face_models,
                                                                                       walk_video):
    """A real browser on the page; edge-run then frozen (SIGSTOP: it holds its sockets and answers nothing)."""
    import signal

    from browser import Browser
    from test_mqtt import free_port

    def shown(element: str):
        return browser.evaluate(f"document.getElementById('{element}').hidden ? null : "
                                f"document.getElementById('{element}').textContent")

    clip = walk_video(tmp_path / "long.avi", frames=600)
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "10", "--view", "0", "--mqtt-host", "127.0.0.1",
                  "--mqtt-port", str(free_port()))  # nothing listens there
    browser = None
    try:
        browser = Browser(tmp_path / "profile", run.url())
        deadline = time.monotonic() + 60
        while "cannot be reached" not in (shown("mqtt") or ""):  # the page has the broker's state
            assert time.monotonic() < deadline, shown("mqtt")
            time.sleep(0.2)
        assert shown("mqtt").startswith("MQTT 127.0.0.1:") and "cannot be reached for" in shown("mqtt")
        assert shown("stale") is None and browser.evaluate("document.body.className") == ""
        run.process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        while shown("stale") is None:
            assert time.monotonic() - stopped < 30, "the page never said it was stale"
            time.sleep(0.2)
        waited = time.monotonic() - stopped
        assert shown("stale").startswith("STALE: edge-run has not answered for")
        assert browser.evaluate("document.body.className") == "stale"
        assert waited >= 4, waited  # not at the first slow answer
    finally:
        run.process.send_signal(signal.SIGCONT)
        run.kill()
        if browser is not None:
            browser.close()


@pytest.mark.shared
def test_a_real_browser_shows_the_door_drawn_on_the_stream_and_its_size(tmp_path, face_models, walk_video):
    """The region's outline and the count_px square in cyan on the stream, as the browser shows it (its pixels
    read back from a canvas), and the Door panel saying them and the aid's proposal."""
    from browser import Browser

    from edge.snapshots import DOOR

    clip = walk_video(tmp_path / "long.avi", frames=600)
    run = EdgeRun(tmp_path, face_models, clip, "--fps", "10", "--view", "0",
                  "--door-region", "[[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]", "--count-px", "100")
    browser = None
    try:
        browser = Browser(tmp_path / "profile", run.url())
        deadline = time.monotonic() + 60
        def door() -> str:  # empty until the page has loaded
            return browser.evaluate("(document.getElementById('door') || {}).textContent") or ""

        while "4-sided region" not in door() or not browser.evaluate("document.getElementById('stream').naturalWidth"):
            assert time.monotonic() < deadline, door()
            time.sleep(0.2)
        said = browser.evaluate("document.getElementById('door').textContent")
        hint = browser.evaluate("document.getElementById('doorhint').textContent")
        # the stream's frame as the browser shows it: (x, y) -> [r, g, b]
        pixels = browser.evaluate("""(() => {
            const img = document.getElementById('stream'), canvas = document.createElement('canvas');
            canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
            const context = canvas.getContext('2d');
            context.drawImage(img, 0, 0);
            const at = (x, y) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
            return {size: [img.naturalWidth, img.naturalHeight], top: at(320, 48), left: at(64, 100),
                    square: at(8, 420), inside: at(320, 100)};
        })()""")
    finally:
        run.kill()
        if browser is not None:
            browser.close()
    assert "from a face of 100 px" in said and "walking in" in said
    assert "faces count from 100 px" in hint or "count_px =" in hint
    cyan = [DOOR[2], DOOR[1], DOOR[0]]  # as RGB
    assert pixels["size"] == [640, 480]
    for where in ("top", "left", "square"):  # the region's top and left sides, the size square's left side
        assert np.abs(np.array(pixels[where]) - cyan).max() < 60, (where, pixels)
    assert np.abs(np.array(pixels["inside"]) - 80).max() < 30, pixels  # the wall inside the region: undrawn
