"""Every doorway's retained state and availability, read from the broker (``edge-report --mqtt``)."""

import json
import logging
import os
import threading
import time

from ..errors import ConfigError, os_reason
from .publisher import make_client

log = logging.getLogger("edge-report")

CONNECT_TIMEOUT = 10.0  # s


def read_fleet(config, password: str | None, wait: float) -> dict[str, dict]:
    """device -> {"state": dict, "availability": str}, from what the broker retains under [mqtt] topic."""
    client = make_client(config, password, f"edge-report-{os.getpid()}")
    fleet: dict[str, dict] = {}
    answered, refused = threading.Event(), []

    def on_connect(client, userdata, flags, reason, properties):
        if reason.is_failure:
            refused.append(str(reason).lower())
        else:
            client.subscribe([(f"{config.topic}/+/state", 1), (f"{config.topic}/+/availability", 1)])
        answered.set()

    def on_message(client, userdata, message):
        device, kind = message.topic.rsplit("/", 2)[1:]
        try:
            fleet.setdefault(device, {})[kind] = (json.loads(message.payload) if kind == "state"
                                                  else message.payload.decode())
        except (ValueError, UnicodeDecodeError):
            log.warning("%s is not edge-run's %s; left out", message.topic, kind)

    client.on_connect, client.on_message = on_connect, on_message
    where = f"{config.host}:{config.port}"
    try:
        client.connect(config.host, config.port, keepalive=30)
    except (OSError, ValueError) as exc:
        reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"cannot reach the MQTT broker {where} ({reason}) — check --mqtt HOST[:PORT] "
                          "and --mqtt-tls") from None
    client.loop_start()
    try:
        if not answered.wait(CONNECT_TIMEOUT):
            raise ConfigError(f"the MQTT broker {where} did not answer in {CONNECT_TIMEOUT:.0f} s — check "
                              "--mqtt HOST[:PORT] and --mqtt-tls")
        if refused:
            raise ConfigError(f"the MQTT broker {where} refused the connection ({refused[0]}) — check "
                              "--mqtt-username and --mqtt-password-file")
        time.sleep(wait)  # retained messages come right after the subscription
    finally:
        client.disconnect()
        client.loop_stop()
    return {device: kinds for device, kinds in sorted(fleet.items()) if "state" in kinds}
