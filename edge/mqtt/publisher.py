"""The MQTT publisher (paho-mqtt 2): events from the counts database's outbox, the retained state and
availability, Home Assistant discovery.

The frame loop only hands over a few numbers (``frame``). paho's own thread keeps the connection,
reconnecting with a growing delay; this module's thread sends what the outbox holds, oldest first,
and deletes each count from it once the broker acknowledged it. A count the broker never
acknowledged (broker away, edge-run killed) stays in the outbox and is sent after the reconnect or
the next start: consumers de-duplicate by the event's ``id``.
"""

import collections
import contextlib
import json
import logging
import sqlite3
import ssl
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt

from ..counts import Outbox, midnight
from ..errors import ConfigError
from . import messages

log = logging.getLogger("edge-run")

IN_FLIGHT = 100  # events sent and not yet acknowledged, at most
STATE_EVERY = 1.0  # s: the state is published when it changed, at most this often
SEND_EVERY = 0.2  # s between looks at the outbox
# s a clean stop gives a connection still being made, the events left, and "offline": within the
# service's TimeoutStopSec (10 s) together
DRAIN = 2.0
RECONNECT = (1, 60)  # s: the first and the longest wait between connection attempts
AWAY_SAID_EVERY = 300.0  # s: while the broker cannot be reached, the warning is repeated this often


def make_client(config, password: str | None, client_id: str) -> mqtt.Client:
    """A paho client with [mqtt]'s credentials and TLS (edge-run's publisher, edge-report's fleet view)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if config.username is not None:
        client.username_pw_set(config.username, password)
    if config.tls:
        try:
            client.tls_set(ca_certs=config.ca_file)
        except ssl.SSLError as exc:
            raise ConfigError(f"[mqtt] ca_file {config.ca_file} is not a CA certificate OpenSSL can read "
                              f"({exc.reason or exc}) — give the PEM file of the CA that signed the broker's "
                              "certificate") from None
    return client


class MqttPublisher:
    def __init__(self, config, device: str, password: str | None, db, policy, labels: list[str], model: str,
                 version: str, away_said_every: float = AWAY_SAID_EVERY):
        self.config, self.device, self.policy, self.labels, self.model = config, device, policy, labels, model
        self.topics = messages.topics(config.topic, device)
        self.discovery = messages.discovery(config.topic, device, labels, version)
        self.where = f"{config.host}:{config.port}"
        self.outbox = Outbox(db)
        self.waiting = self.outbox.size()  # counts the broker has not acknowledged (for the metrics)
        self._in_flight: dict[int, int] = {}  # message id -> count row id
        self._acked: collections.deque[int] = collections.deque()  # message ids, appended by paho's thread
        self._last_sent = 0  # row id: what follows it has not been handed to paho yet
        self._frame = (0.0, [])  # fps, labels of the counted people in view
        self._state: tuple[float, dict] | None = None
        self._connected = threading.Event()
        self._closing = threading.Event()
        self._refusal: str | None = None
        self._trouble: str | None = None  # the publisher's last error, logged once
        self._away: tuple[float, float] | None = None  # while the broker cannot be reached: since, last said
        self._away_said_every = away_said_every
        client = make_client(config, password, f"edge-run-{device}")
        client.will_set(self.topics["availability"], messages.OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT)
        client.on_connect, client.on_disconnect, client.on_publish = self._connect, self._disconnect, self._published
        client.on_connect_fail = self._unreachable
        self.client = client
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)
        self._thread.start()

    # paho's thread
    def _connect(self, client, userdata, flags, reason, properties):
        if reason.is_failure:
            text = str(reason)
            if text != self._refusal:  # once per reason, not on every retry
                log.error("MQTT broker %s refused the connection (%s) — check [mqtt] username and password_file "
                          "(or the broker's access list); retrying", self.where, text.lower())
                self._refusal = text
            return
        self._refusal = None
        if self._away is not None:
            log.info("MQTT broker %s answers again after %.0f s", self.where, time.monotonic() - self._away[0])
            self._away = None
        log.info("MQTT connected to %s as %s", self.where, self.device)
        client.publish(self.topics["availability"], messages.ONLINE, qos=1, retain=True)
        for topic, payload in self.discovery.items():
            client.publish(topic, json.dumps(payload), qos=1, retain=True)
        self._state = None  # a broker that restarted without its retained messages gets the state again
        self._connected.set()

    def _unreachable(self, client, userdata):
        """A connection attempt failed before the broker answered (no such host, a refused port, no route):
        said at once, then every ``away_said_every`` seconds while it lasts, never on every retry."""
        now = time.monotonic()
        if self._away is None:
            self._away = (now, now)
            log.warning("MQTT broker %s cannot be reached — check [mqtt] host and port, and that the broker runs; "
                        "counts wait in the database and are sent once it answers", self.where)
        elif now - self._away[1] >= self._away_said_every:
            self._away = (self._away[0], now)
            log.warning("MQTT broker %s still cannot be reached after %.0f s; %d count(s) wait in the database",
                        self.where, now - self._away[0], self.waiting)

    def _disconnect(self, client, userdata, flags, reason, properties):
        if self._connected.is_set() and not self._closing.is_set():
            log.warning("MQTT connection to %s lost (%s); counts wait in the database and are sent on reconnect",
                        self.where, str(reason).lower())
        self._connected.clear()

    def _published(self, client, userdata, mid, reason, properties):
        self._acked.append(mid)  # no lock: paho holds its own while calling this

    def link(self) -> dict:
        """The link as the live view shows it: connected, connecting, refused (credentials) or unreachable (for
        how long), and the counts that wait for it."""
        away = self._away
        if self._connected.is_set():
            state = "connected"
        elif self._refusal is not None:
            state = "refused"
        elif away is not None:
            state = "unreachable"
        else:
            state = "connecting"
        return {"broker": self.where, "state": state, "waiting": self.waiting,
                "away_s": None if away is None else round(time.monotonic() - away[0])}

    # the frame loop
    def frame(self, index: int, image, result, fps: float, stages_ms: dict[str, float]) -> None:
        self._frame = (fps, [face.person for face in result.faces if face.person is not None])

    # this module's thread
    def _run(self) -> None:
        while not self._closing.wait(SEND_EVERY):
            self._step()

    def _step(self) -> None:
        try:
            self.waiting = self.outbox.size()
            if self._connected.is_set():
                self._send()
                self._publish_state()
            self._settle()
            self._trouble = None
        except Exception as exc:  # noqa: BLE001 - a database or network hiccup must not end the publisher
            if str(exc) != self._trouble:  # once per cause, not five times a second
                log.warning("MQTT publisher: %s; will retry", exc)
                self._trouble = str(exc)

    def _send(self) -> None:
        room = IN_FLIGHT - len(self._in_flight)
        for row in self.outbox.waiting(self._last_sent, room) if room > 0 else []:
            sent = self.client.publish(self.topics["event"], messages.event(self.device, row, self.policy,
                                                                             self.model), qos=self.config.qos)
            if sent.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection went: paho re-sends what it took, the rest waits in the outbox
            self._in_flight[sent.mid] = row[0]
            self._last_sent = row[0]

    def _settle(self) -> None:
        done = []
        while self._acked:
            row = self._in_flight.pop(self._acked.popleft(), None)
            if row is not None:
                done.append(row)
        if done:
            self.outbox.done(done)

    def _publish_state(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and self._state is not None and now - self._state[0] < STATE_EVERY:
            return
        since = midnight(time.time())
        today, last = self.outbox.today(since)
        fps, in_view = self._frame
        day = datetime.fromtimestamp(since).date().isoformat()
        state = messages.state(day, today, self.labels, self.policy, fps, in_view, last, self.model)
        if force or self._state is None or state != self._state[1]:
            self.client.publish(self.topics["state"], json.dumps(state), qos=1, retain=True)
            self._state = (now, state)

    def close(self) -> None:
        """A clean stop: what is left in the outbox gets a few seconds, then the state, ``offline``.
        Never raises: the counts are in the database whatever happens here."""
        self._closing.set()
        self._thread.join()
        try:
            if self._connected.wait(DRAIN):  # a short run may end before the first connection is made
                self._drain()
            left = self.outbox.size()
            if left:
                log.warning("%d count(s) were not acknowledged by the MQTT broker; they are sent on the next "
                            "start", left)
        except sqlite3.Error as exc:
            log.warning("MQTT publisher: %s; the counts stay in the database", exc)
        # Before the clean disconnect, which tells the broker not to send the will.
        gone = self.client.publish(self.topics["availability"], messages.OFFLINE, qos=1, retain=True)
        if self._connected.is_set():
            with contextlib.suppress(RuntimeError, ValueError):  # the connection went meanwhile: the will says it
                gone.wait_for_publish(timeout=DRAIN)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN
        while time.monotonic() < deadline:
            self._send()
            self._settle()
            if not self._in_flight and not self.outbox.waiting(self._last_sent, 1):
                break
            time.sleep(0.05)
        self._publish_state(force=True)
