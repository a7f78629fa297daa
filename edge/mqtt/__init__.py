"""Counts to a message broker (``[mqtt]``): an event per counted person, a retained state and
availability, Home Assistant discovery. Off while ``[mqtt] host`` is unset.

The counts database is the outbox: a count is queued in it as it is written, and leaves it only
when the broker acknowledged its event, so nothing is lost while the broker or network is away.
"""

import re
import socket
from pathlib import Path

from ..credentials import read_secret
from ..errors import BackendUnavailableError, ConfigError, os_reason


def device_name(config) -> str:
    """[mqtt] device, else the host name cut to what a topic level and an HA id may hold."""
    return config.device or re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "edge-run"


def read_password(path: Path) -> str:
    return read_secret(path, "[mqtt] password_file", "write the broker password into it")


PROBE_WAIT = 5.0  # s --check waits for the broker's answer


def _password(config) -> str | None:
    """[mqtt]'s password, its CA file checked; what the publisher and the check need before connecting."""
    password = read_password(Path(config.password_file)) if config.password_file else None
    if config.ca_file is not None and not Path(config.ca_file).is_file():
        raise ConfigError(f"[mqtt] ca_file {config.ca_file} not found — give the CA certificate the broker's "
                          "certificate is signed with")
    return password


def _publisher_module():
    try:
        from . import publisher
    except ImportError:
        raise BackendUnavailableError("MQTT needs paho-mqtt — pip install paho-mqtt (requirements-edge.txt has "
                                      "it), or leave [mqtt] host unset") from None
    return publisher


def open_publisher(config, db, policy, labels: list[str], model: str):
    """The publisher ``config`` ([mqtt]) asks for, connecting in the background; None when MQTT is off."""
    if config.host is None:
        return None
    password = _password(config)
    from .. import __version__

    return _publisher_module().MqttPublisher(config, device_name(config), password, db, policy, labels, model,
                                             __version__)


def probe(config) -> str:
    """Connect once to the broker ``config`` ([mqtt]) names, as edge-run would, and disconnect (``--check``):
    what to tell a person, or a one-line error saying why it cannot work."""
    import threading

    password = _password(config)
    publisher = _publisher_module()
    where = f"{config.host}:{config.port}"
    client = publisher.make_client(config, password, f"edge-run-{device_name(config)}-check")
    answers = []
    answered = threading.Event()
    client.on_connect = lambda client, userdata, flags, reason, properties: (answers.append(reason), answered.set())
    try:
        client.connect(config.host, config.port, keepalive=10)
    except OSError as exc:  # no such host, a refused port, no route, a TLS handshake that failed
        raise ConfigError(f"the MQTT broker {where} cannot be reached ({os_reason(exc)}) — check [mqtt] host and "
                          "port, and that the broker runs") from None
    client.loop_start()
    try:
        if not answered.wait(PROBE_WAIT):
            raise ConfigError(f"the MQTT broker {where} took the connection but did not answer in "
                              f"{PROBE_WAIT:.0f} s — check [mqtt] port (is it the broker's?) and tls")
        if answers[0].is_failure:
            raise ConfigError(f"the MQTT broker {where} refused the connection ({str(answers[0]).lower()}) — check "
                              "[mqtt] username and password_file (or the broker's access list)")
    finally:
        client.disconnect()
        client.loop_stop()
    return f"MQTT broker {where} answers"
