"""edge-run's MQTT publisher, Prometheus metrics and edge-report's fleet view, against a real Mosquitto
started on a free localhost port, real SQLite and prometheus_client's own parser."""

import getpass
import json
import logging
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from edge.cli.report import main as edge_report
from edge.cli.run import main as edge_run

REPO = Path(__file__).resolve().parents[1]
EVENT_KEYS = {"id", "time", "label", "person", "confidence", "track_length", "violation", "model",
              "clock_synchronised"}
PASSWORD = "door-Pa55word-7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """Mosquitto on a free port, stopped and started again at will, keeping its port and its data."""

    def __init__(self, folder: Path, tls: bool = False, password: bool = False):
        binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("mosquitto is missing: make system-deps installs it")
            pytest.skip("mosquitto not installed (apt install mosquitto)")
        self.binary, self.folder, self.port = binary, folder, free_port()
        # run as this user (as root, Mosquitto would become "mosquitto", locked out of the test's folders)
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1", "persistence true",
                 f"persistence_location {folder}/", f"log_dest file {folder / 'mosquitto.log'}",
                 "connection_messages true",
                 f"allow_anonymous {'false' if password else 'true'}"]
        if password:
            subprocess.run(["mosquitto_passwd", "-c", "-b", str(folder / "passwd"), "door", PASSWORD], check=True)
            lines.append(f"password_file {folder / 'passwd'}")
        if tls:
            self.ca = make_certificates(folder)
            lines += [f"cafile {self.ca}", f"certfile {folder / 'server.pem'}", f"keyfile {folder / 'server.key'}"]
        (folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([self.binary, "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("mosquitto did not start")

    def stop(self):
        self.process.terminate()  # SIGTERM: Mosquitto saves its sessions and retained messages
        self.process.wait(timeout=10)


def make_certificates(folder: Path) -> Path:
    """A test CA and a server certificate for 127.0.0.1, made with openssl."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=maskwatch test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    (folder / "san.cnf").write_text("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.cnf")
    return folder / "ca.pem"


@pytest.fixture
def broker(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    b = Broker(folder)
    yield b
    if b.process.poll() is None:
        b.stop()


class Listener:
    """A subscriber with a session the broker keeps (clean_session off): it misses nothing sent while it,
    or the broker, was away."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "test-listener", **tls):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def on(self, suffix: str) -> list[bytes]:
        with self.lock:
            return [payload for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def events(self) -> list[dict]:
        return [json.loads(payload) for payload in self.on("/event")]

    def wait_for(self, check, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out; got {self.messages[-5:]}"
            time.sleep(0.05)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def retained(port: int, topic: str = "#", wait: float = 1.0) -> dict[str, bytes]:
    """What the broker retains under ``topic``, as a newcomer sees it."""
    listener = Listener(port, topic, client_id=f"retained-{time.monotonic_ns()}")
    time.sleep(wait)
    listener.close()
    return {t: payload for t, payload, kept in listener.messages if kept}


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT id, ts, label, track_frames FROM counts ORDER BY id").fetchall()


def counted(db: Path) -> int:
    """People in ``db`` so far; 0 until edge-run has created it and its tables (the file comes first)."""
    try:
        return len(rows(db))
    except sqlite3.OperationalError:
        return 0


def waiting(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


@pytest.fixture
def people(tmp_path, walk_video):
    """Three people crossing the doorway one after the other (the walk wraps every 70 frames)."""
    return walk_video(tmp_path / "three.avi", frames=205)


def run_args(tmp_path, face_models, camera, port, device="door1", *extra):
    return ["--camera", str(camera), "--detector", "yunet", "--detector-dir", str(face_models),
            "--db", str(tmp_path / f"{device}.db"), "--gpio", "none", "--mqtt-host", "127.0.0.1",
            "--mqtt-port", str(port), "--mqtt-device", device, *extra]


def spawn(args, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edge.cli.run", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=log.open("w"))


def wait_log(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


# Home Assistant's MQTT discovery, as its documentation states it: the topic is
# <prefix>/<component>/[<node_id>/]<object_id>/config with ids of [a-zA-Z0-9_-]; an entity belongs to a
# device only with a unique_id and a device with identifiers; sensors and binary sensors need a state_topic;
# availability_topic with payload_available / payload_not_available says online and offline.
HA_TOPIC = re.compile(r"homeassistant/(sensor|binary_sensor)/([a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config")
HA_REQUIRED = {"unique_id", "state_topic", "device", "availability_topic", "payload_available",
               "payload_not_available", "name"}


def check_discovery(configs: dict[str, bytes], device_topic: str) -> None:
    assert len(configs) == 8, sorted(configs)  # a sensor per label, not judged, passers-by and leaving, compliance,
    # the violation
    devices, unique = set(), set()
    for topic, payload in configs.items():
        assert HA_TOPIC.fullmatch(topic), topic
        config = json.loads(payload)
        assert set(config) >= HA_REQUIRED, (topic, HA_REQUIRED - set(config))
        assert config["state_topic"] == f"{device_topic}/state"
        assert config["availability_topic"] == f"{device_topic}/availability"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert isinstance(config["device"]["identifiers"], list) and config["device"]["identifiers"]
        assert "{{" in config["value_template"] and "value_json" in config["value_template"]
        devices.add(tuple(config["device"]["identifiers"]))
        unique.add(config["unique_id"])
        if "/binary_sensor/" in topic:
            assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert len(devices) == 1 and len(unique) == 8  # one HA device per doorway, an id per entity


@pytest.mark.shared
def test_events_state_availability_and_discovery_after_a_run(tmp_path, face_models, people, broker):
    listener = Listener(broker.port)
    try:
        assert edge_run(run_args(tmp_path, face_models, people, broker.port)) == 0
        counted = rows(tmp_path / "door1.db")
        listener.wait_for(lambda: len(listener.on("/event")) >= len(counted))
    finally:
        listener.close()
    assert len(counted) == 3
    events = listener.events()
    assert [set(e) for e in events] == [EVENT_KEYS] * 3  # exactly these keys, no image
    assert len({e["id"] for e in events}) == 3
    assert [(e["label"], e["track_length"]) for e in events] == [(label, n) for _, _, label, n in counted]
    assert all(e["violation"] == (e["label"] == "without_mask") for e in events)
    from edge.clock import kernel_synchronised  # whether this machine's clock was set by a time service

    assert all(e["clock_synchronised"] is (kernel_synchronised() is not False) for e in events)
    assert all(datetime.fromisoformat(e["time"]).utcoffset().total_seconds() == 0 for e in events)
    assert {e["model"] for e in events} == {events[0]["model"]} and "@" in events[0]["model"]
    assert waiting(tmp_path / "door1.db") == 0  # every event acknowledged
    kept = retained(broker.port)
    assert kept["maskwatch/door1/availability"] == b"offline"  # a clean stop says so
    state = json.loads(kept["maskwatch/door1/state"])
    assert state["today"] == {"with_mask": 0, "without_mask": 3, "mask_incorrect": 0, "not_judged": 0,
                              "passer_by": 0, "leaving": 0}
    assert state["compliance"] == 0.0 and state["last_event"] == events[-1]["time"]
    assert state["date"] == datetime.now().date().isoformat()  # the day its counts are for
    check_discovery({t: p for t, p in kept.items() if t.startswith("homeassistant/")}, "maskwatch/door1")


@pytest.mark.shared
def test_availability_is_offline_after_sigterm_and_after_kill_9(tmp_path, face_models, people, broker):
    for stop in (signal.SIGTERM, signal.SIGKILL):
        log = tmp_path / f"run-{stop}.log"
        run = spawn(run_args(tmp_path, face_models, people, broker.port, "door1", "--fps", "10"), log)
        try:
            wait_log(log, "MQTT connected")
            deadline = time.monotonic() + 10
            while retained(broker.port, "maskwatch/door1/availability", 0.3).get(
                    "maskwatch/door1/availability") != b"online":
                assert time.monotonic() < deadline
            run.send_signal(stop)
            assert run.wait(timeout=30) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
        finally:
            run.kill()
            run.wait()
        deadline = time.monotonic() + 10  # after kill -9 the broker sends the will once it sees the socket go
        while retained(broker.port, "maskwatch/door1/availability", 0.3).get(
                "maskwatch/door1/availability") != b"offline":
            assert time.monotonic() < deadline, stop


@pytest.mark.shared
def test_broker_away_mid_run_loses_no_event_and_repeats_none(tmp_path, face_models, people, broker):
    listener = Listener(broker.port)
    log = tmp_path / "run.log"
    run = spawn(run_args(tmp_path, face_models, people, broker.port, "door1", "--fps", "15"), log)
    try:
        listener.wait_for(lambda: len(listener.on("/event")) >= 1, timeout=60)
        broker.stop()
        wait_log(log, "MQTT connection to")  # edge-run noticed, and goes on counting
        deadline = time.monotonic() + 60
        while len(rows(tmp_path / "door1.db")) < 2:  # someone counted while the broker is away
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert waiting(tmp_path / "door1.db") >= 1
        broker.start()
        assert run.wait(timeout=90) == 0
        counted = rows(tmp_path / "door1.db")
        listener.wait_for(lambda: len({e["id"] for e in listener.events()}) >= len(counted))
        time.sleep(0.5)  # anything sent twice would arrive now
    finally:
        run.kill()
        listener.close()
    ids = [e["id"] for e in listener.events()]
    assert len(counted) == 3 and len(ids) == 3 and len(set(ids)) == 3, ids
    assert [e["label"] for e in listener.events()] == [label for _, _, label, _ in counted]  # oldest first
    assert waiting(tmp_path / "door1.db") == 0


@pytest.mark.shared
def test_events_of_a_killed_run_are_sent_by_the_next(tmp_path, face_models, people, walk_video, broker):
    broker.stop()  # no broker while the first run counts
    log = tmp_path / "first.log"
    first = spawn(run_args(tmp_path, face_models, people, broker.port, "door1", "--fps", "30"), log)
    try:
        deadline = time.monotonic() + 60
        while counted(tmp_path / "door1.db") < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first.kill()  # kill -9, with events unpublished
        first.wait()
    finally:
        first.kill()
    unsent = rows(tmp_path / "door1.db")
    assert waiting(tmp_path / "door1.db") == len(unsent) >= 2
    broker.start()
    listener = Listener(broker.port)
    try:
        someone = walk_video(tmp_path / "one.avi", frames=5)  # one more person, counted by the second run
        assert edge_run(run_args(tmp_path, face_models, someone, broker.port)) == 0
        listener.wait_for(lambda: len(listener.events()) >= len(unsent) + 1)
    finally:
        listener.close()
    # the killed run's events first, oldest first, then the new one
    assert [int(e["id"].rsplit("-", 1)[1]) for e in listener.events()] == [i for i, _, _, _ in unsent] + [
        len(unsent) + 1]
    assert waiting(tmp_path / "door1.db") == 0


@pytest.mark.shared
def test_tls_and_password_work_and_a_wrong_password_is_one_line_and_a_retry(tmp_path, face_models, walk_video):
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Broker(folder, tls=True, password=True)
    try:
        good, bad = tmp_path / "good", tmp_path / "bad"
        good.write_text(PASSWORD + "\n")
        bad.write_text("not-the-password\n")
        for secret in (good, bad):
            secret.chmod(0o600)
        clip = walk_video(tmp_path / "walk.avi", frames=60)
        secure = ["--mqtt-tls", "--mqtt-ca-file", str(broker.ca), "--mqtt-username", "door"]
        log = tmp_path / "bad.log"
        run = spawn(run_args(tmp_path, face_models, clip, broker.port, "door1", "--fps", "12", *secure,
                             "--mqtt-password-file", str(bad)), log)
        assert run.wait(timeout=90) == 0  # counting went on
        text = log.read_text()
        assert len(re.findall(r"refused the connection \(not authorized\)", text)) == 1, text
        assert "check [mqtt] username and password_file" in text and "Traceback" not in text
        assert "not-the-password" not in text and PASSWORD not in text
        refusals = (folder / "mosquitto.log").read_text().count("disconnected, not authorised")
        assert 2 <= refusals <= 10, refusals  # it retried, backing off: not once per frame
        assert waiting(tmp_path / "door1.db") == 1  # kept for a run that can log in
        log = tmp_path / "good.log"
        run = spawn(run_args(tmp_path, face_models, clip, broker.port, "door1", *secure,
                             "--mqtt-password-file", str(good)), log)
        assert run.wait(timeout=90) == 0
        assert "MQTT connected" in log.read_text() and PASSWORD not in log.read_text()
        assert waiting(tmp_path / "door1.db") == 0  # the first run's event went out too
    finally:
        broker.stop()


@pytest.mark.shared
def test_metrics_parse_and_agree_with_the_database(tmp_path, face_models, walk_video):
    from prometheus_client.parser import text_string_to_metric_families

    clip = walk_video(tmp_path / "walk.avi", frames=60)
    log = tmp_path / "run.log"
    run = spawn(["--camera", str(clip), "--detector", "yunet", "--detector-dir", str(face_models),
                 "--db", str(tmp_path / "c.db"), "--gpio", "none", "--fps", "10", "--metrics", "0"], log)
    try:
        wait_log(log, "Prometheus metrics at")
        url = re.search(r"metrics at (http://\S+)", log.read_text()).group(1)
        assert url.startswith("http://127.0.0.1:")  # a bare port binds loopback
        wait_log(log, "counted track")
        time.sleep(1.0)
        with urllib.request.urlopen(url, timeout=10) as response:
            families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
        counted = {label: sum(1 for _, _, lab, _ in rows(tmp_path / "c.db") if lab == label)
                   for label in ("without_mask",)}
    finally:
        run.kill()
    people = {s.labels["label"]: s.value for s in families["maskwatch_people_counted"].samples}
    assert people == counted == {"without_mask": 1}
    assert next(s.value for s in families["maskwatch_frames"].samples) > 5
    assert families["maskwatch_fps"].samples[0].value > 0
    stages = {s.labels["stage"] for s in families["maskwatch_stage_seconds"].samples}
    assert stages == {"detect", "classify"}
    # detect latency is of frames the detector ran on: the fast path skips most frames, and they are not in it
    detected = next(s.value for s in families["maskwatch_stage_seconds"].samples
                    if s.name == "maskwatch_stage_seconds_count" and s.labels["stage"] == "detect")
    frames = next(s.value for s in families["maskwatch_frames"].samples)
    assert 0 < detected < frames
    for name in ("maskwatch_camera_reconnects", "maskwatch_db_write_failures", "maskwatch_events_waiting"):
        assert families[name].samples[0].value == 0, name


@pytest.mark.shared
def test_fleet_report_shows_every_doorway(tmp_path, face_models, walk_video, broker, capsys):
    clip = walk_video(tmp_path / "walk.avi", frames=60)
    for device in ("front-door", "back-door"):
        assert edge_run(run_args(tmp_path, face_models, clip, broker.port, device)) == 0
    capsys.readouterr()
    assert edge_report(["--mqtt", f"127.0.0.1:{broker.port}", "--csv", str(tmp_path / "doors.csv")]) == 0
    out = capsys.readouterr().out
    assert "2 doorway(s)" in out
    lines = (tmp_path / "doors.csv").read_text().splitlines()
    assert lines[0].startswith("doorway,with_mask,without_mask,mask_incorrect,not_judged,total,compliance_percent,"
                               "passer_by,leaving,status")
    assert [line.split(",")[:10] for line in lines[1:]] == [
        ["back-door", "0", "1", "0", "0", "1", "0.0", "0", "0", "offline"],
        ["front-door", "0", "1", "0", "0", "1", "0.0", "0", "0", "offline"],
        ["total", "0", "2", "0", "0", "2", "0.0", "0", "0", ""]]
    # a doorway that went offline on an earlier day: its retained state holds that day's counts
    old = {"date": "2026-11-30", "today": {"with_mask": 7, "without_mask": 2, "mask_incorrect": 0, "not_judged": 0},
           "compliance": 77.8, "last_event": "2026-11-30T17:59:00.000Z"}
    import paho.mqtt.client as mqtt

    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect("127.0.0.1", broker.port)
    sender.loop_start()
    for topic, payload in (("maskwatch/side-door/state", json.dumps(old)), ("maskwatch/side-door/availability",
                                                                             "offline")):
        sender.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
    sender.loop_stop()
    sender.disconnect()
    assert edge_report(["--mqtt", f"127.0.0.1:{broker.port}", "--csv", str(tmp_path / "doors.csv")]) == 0
    rows = [line.split(",")[:10] for line in (tmp_path / "doors.csv").read_text().splitlines()[1:]]
    assert ["side-door", "0", "0", "0", "0", "0", "n/a", "0", "0", "offline since 2026-11-30"] in rows
    assert rows[-1] == ["total", "0", "2", "0", "0", "2", "0.0", "0", "0", ""]  # not counted as today's
    broker.stop()
    assert edge_report(["--mqtt", f"127.0.0.1:{broker.port}"]) == 1
    assert "cannot reach the MQTT broker" in capsys.readouterr().err
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert edge_report(["--mqtt", f"127.0.0.1:{broker.port}", "--mqtt-tls", "--mqtt-ca-file",
                        str(tmp_path / "junk.pem")]) == 1
    err = capsys.readouterr().err
    assert "is not a CA certificate OpenSSL can read" in err and err.count("\n") == 1


def test_a_database_error_in_the_publisher_is_logged_once_and_retried(tmp_path, broker, caplog):
    from edge.config import MqttConfig
    from edge.counts import CountStore
    from edge.mqtt.publisher import MqttPublisher
    from edge.policy import Policy

    db = tmp_path / "c.db"
    CountStore(db, outbox=True).close()
    config = MqttConfig(host="127.0.0.1", port=broker.port)
    publisher = MqttPublisher(config, "door1", None, db, Policy({}), ["with_mask"], "m@0", "0")
    try:
        with sqlite3.connect(db) as connection:
            connection.execute("DROP TABLE outbox")  # what a damaged or foreign file would do
        time.sleep(1.5)  # seven looks at the outbox
    finally:
        publisher.close()
    troubles = [r.getMessage() for r in caplog.records if "no such table: outbox" in r.getMessage()]
    # once while running, however often it looked; once at the stop, which goes on to say offline
    assert [t.endswith("will retry") for t in troubles] == [True, False], troubles
    assert retained(broker.port, "maskwatch/door1/availability")["maskwatch/door1/availability"] == b"offline"


def test_a_broker_that_is_not_there_is_said_at_once_and_again_until_it_comes(tmp_path, broker, caplog):
    from edge.config import MqttConfig
    from edge.counts import CountStore
    from edge.mqtt.publisher import MqttPublisher
    from edge.policy import Policy

    broker.stop()  # a broker that boots after the Pi, on the port edge-run was given
    db = tmp_path / "c.db"
    store = CountStore(db, outbox=True)
    store.add("with_mask", 0.9, 5)
    caplog.set_level(logging.INFO)
    publisher = MqttPublisher(MqttConfig(host="127.0.0.1", port=broker.port), "door1", None, db, Policy({}),
                              ["with_mask"], "m@0", "0", away_said_every=1.0)
    try:
        deadline = time.monotonic() + 20
        while not any("still cannot be reached" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.1)
        away = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert away[0] == (f"MQTT broker 127.0.0.1:{broker.port} cannot be reached — check [mqtt] host and port, "
                           "and that the broker runs; counts wait in the database and are sent once it answers")
        assert "1 count(s) wait in the database" in away[1]
        broker.start()
        deadline = time.monotonic() + 30
        while waiting(db):  # the count waiting is sent once the broker answers
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.1)
    finally:
        publisher.close()
        store.close()
    assert any(f"MQTT broker 127.0.0.1:{broker.port} answers again after" in r.getMessage() for r in caplog.records)


def test_check_connects_to_the_broker_and_fails_in_one_line_when_it_cannot(tmp_path, broker, face_models):
    command = [sys.executable, "-m", "edge.cli.run", "--camera", str(REPO / "edge" / "assets" / "face.jpg"),
               "--detector-dir", str(face_models), "--db", str(tmp_path / "c.db"), "--gpio", "none", "--check",
               "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port)]
    present = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert present.returncode == 0, present.stderr
    assert f"MQTT broker 127.0.0.1:{broker.port} answers" in present.stdout
    broker.stop()
    absent = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    lines = absent.stderr.strip().splitlines()
    assert absent.returncode == 1 and "check ok" not in absent.stdout
    assert lines[-1] == (f"edge-run: error: the MQTT broker 127.0.0.1:{broker.port} cannot be reached (connection "
                         "refused) — check [mqtt] host and port, and that the broker runs")


def test_check_binds_the_view_and_metrics_ports_and_fails_when_one_is_taken(tmp_path, face_models):
    command = [sys.executable, "-m", "edge.cli.run", "--camera", str(REPO / "edge" / "assets" / "face.jpg"),
               "--detector-dir", str(face_models), "--db", str(tmp_path / "c.db"), "--gpio", "none", "--check"]
    view, metrics = free_port(), free_port()
    free = subprocess.run(command + ["--view", str(view), "--metrics", str(metrics)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert free.returncode == 0, free.stderr
    assert f"live view http://127.0.0.1:{view}/ can be served; metrics port {metrics} can be served" in free.stdout
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", metrics))
        taken.listen()
        busy = subprocess.run(command + ["--metrics", str(metrics)], cwd=REPO, capture_output=True, text=True,
                              timeout=60)
    assert busy.returncode == 1 and "check ok" not in busy.stdout
    assert busy.stderr.strip().splitlines()[-1].startswith(
        f"edge-run: error: cannot serve the metrics on 127.0.0.1:{metrics} (address already in use)")
