"""Counts to a message broker (``[mqtt]``): an event per counted person, a retained state and
availability, Home Assistant discovery. Off while ``[mqtt] host`` is unset.

The counts database is the outbox: a count is queued in it as it is written, and leaves it only
when the broker acknowledged its event, so nothing is lost while the broker or network is away.
"""

import re
import socket
from pathlib import Path

from ..credentials import read_secret
from ..errors import BackendUnavailableError, ConfigError


def device_name(config) -> str:
    """[mqtt] device, else the host name cut to what a topic level and an HA id may hold."""
    return config.device or re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0]) or "edge-run"


def read_password(path: Path) -> str:
    return read_secret(path, "[mqtt] password_file", "write the broker password into it")


def open_publisher(config, db, policy, labels: list[str], model: str):
    """The publisher ``config`` ([mqtt]) asks for, connecting in the background; None when MQTT is off."""
    if config.host is None:
        return None
    password = read_password(Path(config.password_file)) if config.password_file else None
    if config.ca_file is not None and not Path(config.ca_file).is_file():
        raise ConfigError(f"[mqtt] ca_file {config.ca_file} not found — give the CA certificate the broker's "
                          "certificate is signed with")
    try:
        from .publisher import MqttPublisher
    except ImportError:
        raise BackendUnavailableError("MQTT needs paho-mqtt — pip install paho-mqtt (requirements-edge.txt has "
                                      "it), or leave [mqtt] host unset") from None
    from .. import __version__

    return MqttPublisher(config, device_name(config), password, db, policy, labels, model, __version__)
