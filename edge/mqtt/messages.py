"""What edge-run sends a broker, as pure functions: topics, the event per counted person, the retained
state, and Home Assistant's MQTT discovery configs. Never an image."""

import json
from datetime import UTC, datetime

from ..counts import UNSYNCED
from ..policy import NOT_PEOPLE, VIOLATION, WORDS, Policy

DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"


def topics(prefix: str, device: str) -> dict[str, str]:
    base = f"{prefix}/{device}"
    return {"event": f"{base}/event", "state": f"{base}/state", "availability": f"{base}/availability"}


def iso(ts: float) -> str:
    """ISO 8601 UTC with milliseconds: 2026-12-02T09:10:00.123Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_id(device: str, row_id: int, ts: float) -> str:
    """Unique and the same on every re-send: the device, the count's time and its row in the device's
    database (the time keeps it unique if the database is ever started anew)."""
    return f"{device}-{round(ts * 1000)}-{row_id}"


def event(device: str, row: tuple, policy: Policy, model: str) -> bytes:
    """A count as the broker gets it; ``clock_synchronised`` false when its time came from a clock no time
    service had set (the database puts it right later; what was sent stays as sent); ``person`` false for a
    passer-by or someone leaving, recorded but no person of the door."""
    row_id, ts, label, confidence, track_frames, clock = row
    return json.dumps({"id": event_id(device, row_id, ts), "time": iso(ts), "label": label,
                       "person": label not in NOT_PEOPLE,
                       "confidence": round(float(confidence), 4), "track_length": int(track_frames),
                       "violation": policy.of(label) == VIOLATION, "model": model,
                       "clock_synchronised": clock != UNSYNCED}).encode()


def state(day: str, today: dict[str, int], labels: list[str], policy: Policy, fps: float, in_view: list[str],
          last_event: float | None, model: str) -> dict:
    """``day``: the local date (YYYY-MM-DD) ``today``'s counts are for, so a consumer reading a retained state
    of a doorway that went offline on an earlier day does not take them for today's."""
    counts = {label: today.get(label, 0) for label in labels}
    return {"date": day, "today": counts, "compliance": policy.compliance_percent(counts),
            "fps": round(fps, 1), "people_in_view": len(in_view),
            "violation_in_view": any(policy.of(label) == VIOLATION for label in in_view),
            "last_event": None if last_event is None else iso(last_event), "model": model}


def discovery(prefix: str, device: str, labels: list[str], version: str) -> dict[str, dict]:
    """Home Assistant MQTT discovery: topic -> config, one HA device per doorway. Each entity has the
    fields HA needs to place it: unique_id, state_topic, the device with its identifiers, availability."""
    t = topics(prefix, device)
    node = f"{prefix.replace('/', '_')}_{device}"
    common = {"state_topic": t["state"], "availability_topic": t["availability"], "payload_available": ONLINE,
              "payload_not_available": OFFLINE,
              "device": {"identifiers": [node], "name": f"Maskwatch {device}", "manufacturer": "Maskwatch",
                         "model": "edge-run", "sw_version": version}}
    configs = {}
    for label in labels:
        name = WORDS.get(label, label).replace("_", " ")
        configs[f"{DISCOVERY_PREFIX}/sensor/{node}/{label}/config"] = {
            **common, "name": f"{name} today", "unique_id": f"{node}_{label}",
            "value_template": f"{{{{ value_json.today.{label} }}}}", "unit_of_measurement": "people",
            "state_class": "total_increasing", "icon": "mdi:account-multiple"}
    configs[f"{DISCOVERY_PREFIX}/sensor/{node}/compliance/config"] = {
        **common, "name": "compliance today", "unique_id": f"{node}_compliance",
        "value_template": "{{ value_json.compliance }}", "unit_of_measurement": "%", "state_class": "measurement",
        "icon": "mdi:face-mask"}
    configs[f"{DISCOVERY_PREFIX}/binary_sensor/{node}/violation/config"] = {
        **common, "name": "violation in view", "unique_id": f"{node}_violation", "device_class": "problem",
        "value_template": "{{ 'ON' if value_json.violation_in_view else 'OFF' }}", "payload_on": "ON",
        "payload_off": "OFF"}
    return configs
