"""The runtime's configuration: a frozen dataclass tree, loaded from TOML, overridden by flags.

Every option has one home here, with its default and its help text; the CLI flags and
``--print-config`` are generated from this tree, so a file, a flag and the printed config
can never disagree. Unknown keys, wrong types and impossible values are refused with one
line that names the key and says what to write instead.
"""

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import detectors, door, schema
from .alerts.base import ALERTS
from .classifiers.base import CLASSIFIERS
from .errors import ConfigError, os_reason
from .policy import SEVERITIES


def option(default, help: str, flag: str | None = None, minimum: float | None = None,
           maximum: float | None = None, choices: tuple | None = None, off: str | None = None,
           pattern: tuple[str, str] | None = None, items: tuple[int, int] | None = None):
    """A config field; its flag is ``--name`` unless ``flag`` gives a clearer or unambiguous one."""
    return schema.spec(default, help=help, flag=flag, minimum=minimum, maximum=maximum, choices=choices, off=off,
                       pattern=pattern, items=items)


# A path or source: an empty one would make SQLite keep the counts in a temporary file, OpenCV open nothing.
TEXT = (r"(?s).*\S.*", "a non-empty text")
# A pin number (BCM or board) or a gpiozero pin name such as GPIO17, BOARD11, J8:11.
PIN_NAME = (r"[A-Za-z][A-Za-z0-9]*(:[0-9]+)?", "a pin number or name such as GPIO17 or BOARD11")


@dataclass(frozen=True)
class CameraConfig:
    source: str = option("csi", "csi, usb, usb:N, /dev/videoN, rtsp://..., http://..., a video file or "
                         "an image folder", flag="--camera", pattern=TEXT)
    width: int = option(640, "capture width (live cameras)", minimum=16, maximum=8192)
    height: int = option(480, "capture height (live cameras)", minimum=16, maximum=8192)
    fps: float | None = option(None, "ask a live camera for this frame rate; a file or folder is played at it "
                               "(default: as fast as frames are processed)", minimum=0.1, maximum=240.0)
    stall_timeout: float = option(30.0, "exit non-zero after this many seconds without a frame, so the "
                                  "service manager restarts edge-run", minimum=0.1, maximum=3600.0)


@dataclass(frozen=True)
class ModelConfig:
    path: str | None = option(None, "model bundle folder, manifest or artifact (default: the shipped model)",
                              flag="--model", pattern=TEXT)
    backend: str | None = option(None, "classifier backend (default: the best artifact in the bundle; litert "
                                 "and onnx mean their int8 artifact)",
                                 choices=(*CLASSIFIERS.artifacts(), *CLASSIFIERS.names()))
    threads: int = option(1, "classifier threads", minimum=1, maximum=64)


@dataclass(frozen=True)
class DetectorConfig:
    name: str = option("auto", "auto: the first of " + ", ".join(detectors.auto_order()) + " whose files are present. "
                       + "; ".join(f"{name}: {cls.summary}" for name, cls in detectors.DETECTORS.items()),
                       flag="--detector", choices=detectors.choices())
    model_dir: str | None = option(None, "detector files (default: $MASKWATCH_MODELS or "
                                   "~/.local/share/maskwatch/models)", flag="--detector-dir", pattern=TEXT)
    max_side: int | None = option(None, "detect on frames shrunk to this longer side (default: the detector's own, "
                                  "640 or its bundle's)", flag="--detect-max-side",
                                  minimum=32, maximum=4096)
    # A detector's score is a probability; a floor of 1 would let no face through.
    min_score: float | None = option(None, "detector confidence floor (default: the detector's own)",
                                     flag="--detect-min-score", minimum=0.0, maximum=0.99)
    threads: int | None = option(None, "threads for detection, OpenCV's or LiteRT's (default: one per core)",
                                 flag="--detect-threads", minimum=1, maximum=64)
    runtime: str = option("auto", "what runs the detector: litert (its float TFLite twin), opencv (its ONNX), "
                          "litert-int8 (a bundle's int8 twin: a third faster, fewer people counted right); auto: "
                          "litert where the twin and LiteRT are there, else opencv",
                          flag="--detect-runtime", choices=(detectors.AUTO, *detectors.RUNTIMES))


@dataclass(frozen=True)
class TrackerConfig:
    min_hits: int = option(3, "detections of a face before the person is counted", minimum=1, maximum=100)
    max_misses: int = option(10, "detections a person may be missing from before the track ends", minimum=0,
                             maximum=1000)
    # 0 would join any two faces into one track; a walking face's box overlaps its last one by about 0.9,
    # so above that nobody's track would continue and nobody would be counted.
    min_iou: float = option(0.25, "box overlap that continues a track", minimum=0.05, maximum=0.9)
    # The detector's own floor is fitted on real faces (train/walkthrough.py --photos training); a score is a
    # probability, and a floor of 1 would let nobody be counted.
    face_score: float | None = option(None, "detector score a face must reach on at least one frame to be counted "
                                      "(default: the detector's own; 0: off)", minimum=0.0, maximum=0.99)
    # The model is measured per face size (edge-eval, docs/notes/2026-12-05-benchmark-record.md): under 32 px
    # it is least accurate.
    judge_px: int = option(32, "face width in px from which a frame is used to judge a mask", minimum=0,
                           maximum=1000)
    # YuNet's landmarks: 0 frontal, a profile 1-4 (its eyes close together), the back of a head it took for a
    # face 2.1-4.9; real profiles the annotators labelled went under 2.0 on enough frames, and a check at 0.7
    # made 7 of 115 unmasked walk-up faces not judged (docs/notes/2026-12-05-benchmark-record.md).
    max_turn: float = option(2.0, "how far a face may be turned away (the nose's offset from between the eyes, in "
                             "eye distances) in a frame used to judge a mask", minimum=0.0, maximum=10.0)
    judge_frames: int = option(3, "frames that size and that frontal before the person is counted while in view; "
                               "someone never seen so is counted as not judged when their track ends", minimum=1,
                               maximum=100)
    best_frames: int = option(5, "the person's label is the mean over this many of their best-seen frames "
                              "(largest, sharpest, most face-like)", minimum=1, maximum=100)


@dataclass(frozen=True)
class DoorConfig:
    """Who is a person of this door (edge.door): a face that came to the door, in its region and large
    enough, wholly in view; by default only those walking in are counted."""

    region: list[list[float]] | None = option(
        None, "the counting region: a polygon of [x, y] points, fractions of the frame's width and height "
        "([0, 0] top left, [1, 1] bottom right), such as [[0.2, 0], [0.8, 0], [0.8, 1], [0.2, 1]]; a face is at "
        "the door while its centre is inside (default: the whole frame)", flag="--door-region", items=(3, 64))
    count_px: int | None = option(None, "the face size (its box's shorter side, px) a person reaches at the door; "
                                  "a face never that large in the region is a passer-by (default: the size the "
                                  "model was measured accurate from, else [tracker] judge_px)",
                                  flag="--count-px", minimum=1, maximum=4096)
    count: str = option("entering", "entering: count the people walking in (their face grows); someone seen only "
                        "walking away is recorded as leaving, not judged; both: everyone who came to the door, "
                        "those seen only walking away as not judged", flag="--door-count",
                        choices=("entering", "both"))

    def check(self, where: str, error: type) -> None:
        if self.region is None:
            return
        for i, point in enumerate(self.region):
            if len(point) != 2 or not all(0.0 <= v <= 1.0 for v in point):
                raise error(f"{where} region[{i}] is {point}; each point is [x, y], both from 0 to 1 (fractions "
                            "of the frame's width and height: the frame's edges are 0 and 1)")
        for i, point in enumerate(self.region):
            if point in self.region[:i]:
                raise error(f"{where} region[{i}] repeats the point {point}; give each corner once")
        crossed = door.crossing(self.region)
        if crossed is not None:
            i, j = crossed
            n = len(self.region)
            raise error(f"{where} region crosses itself: its side from region[{i}] to region[{(i + 1) % n}] meets "
                        f"the side from region[{j}] to region[{(j + 1) % n}]; give the points in order around "
                        "the region")
        if door.area(self.region) < MIN_REGION:
            raise error(f"{where} region has no area to speak of ({door.area(self.region):.4f} of the frame); give "
                        f"at least {MIN_REGION} of it")


MIN_REGION = 0.001  # of the frame: a region any smaller holds no face


# Detection on every frame, whole frames: ``preset = "exact"``; each detector's own ``auto`` preset is
# declared in its file (``FaceDetector.preset``).
EXACT = {"detect_every": 1, "motion_gate": False, "motion_regions": False}


def _preset_words(preset: dict) -> str:
    k = preset["detect_every"]
    every = "every frame" if k == 1 else f"every {k}{ {2: 'nd', 3: 'rd'}.get(k, 'th')} frame"
    switches = [name for key, name in (("motion_gate", "motion gate"), ("motion_regions", "regions")) if preset[key]]
    return every + (f" with {' and '.join(switches)}" if switches else "")


@dataclass(frozen=True)
class SpeedConfig:
    """The fast path: spend the CPU on frames and faces where something can change."""

    preset: str = option("auto", "auto: the fastest settings measured to count what detection on every frame "
                         "counts, for the detector in use (" + "; ".join(
                             f"{name}: {_preset_words(cls.preset)}" for name, cls in detectors.DETECTORS.items())
                         + "); exact: detect on every frame, whole frames, for any detector. The three settings "
                         "below override it",
                         choices=("auto", "exact"))
    detect_every: int | None = option(None, "run the face detector on every k-th frame (on every frame while "
                                      "someone in view is not counted yet); between, faces keep their tracked "
                                      "boxes and labels (default: the preset's)", minimum=1, maximum=30)
    motion_gate: bool | None = option(None, "skip detection while nobody is tracked and the frame has not "
                                      "changed since the detector last looked, an idle doorway (default: the "
                                      "preset's)")
    # A face at the far end of a doorway covers about 1% of the frame: a gate needing more never opens for it.
    motion_threshold: float = option(0.003, "share of pixels that must change to open the motion gate",
                                     minimum=0.0, maximum=0.01)
    motion_regions: bool | None = option(None, "search only the parts of the frame that changed since the "
                                         "detector last looked, and around tracked faces; every 10th detection "
                                         "still searches the whole frame (default: the preset's)")
    settled: float | None = option(0.9, "stop classifying a counted person once the mean probability of "
                                   "their label reaches this (counts never change after counting); "
                                   "off: classify every face in every frame", minimum=0.5, maximum=1.0, off="off")

    def settings(self, detector: str) -> dict:
        """The Pipeline's fast-path keywords for ``detector`` (its resolved name, not auto)."""
        chosen = EXACT if self.preset == "exact" else detectors.preset(detector)
        given = {key: getattr(self, key) for key in chosen if getattr(self, key) is not None}
        return {**chosen, **given, "motion_threshold": self.motion_threshold, "settled": self.settled}


@dataclass(frozen=True)
class AlertsConfig:
    backend: str = option("gpiozero", "GPIO library; none runs without outputs", flag="--gpio",
                          choices=ALERTS.names())
    green_led: int | str | None = option(None, "pin of the green LED (compliant person), e.g. 17 or \"GPIO17\"",
                                         minimum=0, maximum=999, pattern=PIN_NAME)
    red_led: int | str | None = option(None, "pin of the red LED (a violation or a warning)", minimum=0, maximum=999,
                                       pattern=PIN_NAME)
    buzzer: int | str | None = option(None, "pin of the buzzer (beeps per violation, a short beep per warning)",
                                      minimum=0,
                                      maximum=999, pattern=PIN_NAME)
    relay: int | str | None = option(None, "pin of a door-release relay (pulsed per compliant entry)", minimum=0,
                                     maximum=999, pattern=PIN_NAME)
    active_high: bool = option(True, "LEDs and buzzer are on when their pin is high")
    relay_active_high: bool = option(False, "the relay is energised by a high pin (most modules: low)")
    hold: float = option(2.0, "seconds an LED stays on after the person was last seen, so it does not "
                         "flicker", flag="--led-hold", minimum=0.0, maximum=3600.0)
    beeps: int = option(3, "buzzer beeps per person counted with a violation", minimum=0, maximum=20)
    beep_on: float = option(0.15, "seconds of each beep", minimum=0.01, maximum=5.0)
    beep_off: float = option(0.10, "seconds between beeps", minimum=0.01, maximum=5.0)
    warning_beep: float = option(0.05, "seconds of the one short beep per person counted with a warning (a mask "
                                 "worn wrong); 0: none", minimum=0.0, maximum=5.0)
    relay_seconds: float = option(3.0, "seconds the relay stays energised", minimum=0.1, maximum=600.0)

    def check(self, where: str, error: type) -> None:
        given = [(name, getattr(self, name)) for name in ("green_led", "red_led", "buzzer", "relay")
                 if getattr(self, name) is not None]
        def same(pin) -> str:  # gpiozero reads a bare number as BCM: 17, GPIO17 and BCM17 are one pin
            return f"GPIO{pin}" if isinstance(pin, int) else str(pin).upper().replace("BCM", "GPIO")

        for i, (name, pin) in enumerate(given):
            for other, other_pin in given[:i]:
                if same(pin) == same(other_pin):
                    raise error(f"{where} {other} and {name} are both pin {pin}; give each output its own pin")


@dataclass(frozen=True)
class PolicyConfig:
    """What a label means at the door; unset: what the model bundle says (without_mask a violation,
    mask_incorrect a warning). A violation sounds the full beep pattern, a warning one short beep; both
    light the red LED and keep the relay shut, and only ok counts as compliant."""

    with_mask: str | None = option(None, "ok, warning or violation", flag="--policy-with-mask", choices=SEVERITIES)
    without_mask: str | None = option(None, "ok, warning or violation", flag="--policy-without-mask",
                                      choices=SEVERITIES)
    mask_incorrect: str | None = option(None, "ok, warning or violation (a mask under the nose or on the chin)",
                                        flag="--policy-mask-incorrect", choices=SEVERITIES)

    def overrides(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OutputConfig:
    # ":memory:" is SQLite's name for a database that vanishes with the process.
    db: str = option("counts.db", "SQLite file for the counts, in an existing folder", flag="--db",
                     pattern=(r"(?s)(?!:memory:$).*\S.*", "a file path (not empty, not :memory:)"))
    detections: str | None = option(None, "write one JSON line per frame to this file", pattern=TEXT)
    snapshots: str | None = option(None, "save an annotated frame per counted person to this folder "
                                   "(off by default: it stores faces)", pattern=TEXT)
    summary_every: float = option(60.0, "seconds between summary log lines", minimum=0.1, maximum=86400.0)
    clock: str = option("auto", "auto: until the kernel says a time service has set the clock (a Pi has no "
                        "real-time clock), counts are marked unsynchronised and moved to their true time once "
                        "it is; trusted: the clock is always right (a battery-backed RTC, GPS)",
                        choices=("auto", "trusted"))


# A port alone, or a host (name, IPv4, [IPv6]) and a port; 0 lets the system pick a free port.
LISTEN = (r"(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):)?[0-9]{1,5}",
          "PORT or ADDRESS:PORT, such as 8080 or 0.0.0.0:8080")


class Listening:
    """A section with a ``listen`` option ([ADDRESS:]PORT): what to bind, and its port checked."""

    listen: str | None

    def address(self) -> tuple[str, int] | None:
        """(host, port) to bind, a bare port on loopback; None when the section is off."""
        if self.listen is None:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def check(self, where: str, error: type) -> None:
        if self.listen is not None and not 0 <= self.address()[1] <= 65535:
            raise error(f"{where} listen = {self.listen!r}: the port must be from 0 to 65535")


@dataclass(frozen=True)
class ViewConfig(Listening):
    """A live view in a browser, for aiming the camera: it shows faces, so it is off unless asked for."""

    listen: str | None = option(None, "serve the live view at [ADDRESS:]PORT; a bare port binds 127.0.0.1 "
                                "(reach it with ssh -L); another address needs token_file", flag="--view",
                                pattern=LISTEN)
    fps: float = option(5.0, "most frames a second the view's stream sends", flag="--view-fps", minimum=0.2,
                        maximum=30.0)
    token_file: str | None = option(None, "a file holding the token every request must carry (?token=... or "
                                    "Authorization: Bearer ...)", flag="--view-token-file", pattern=TEXT)


# An MQTT topic level: no wildcards (+, #), no empty level.
TOPIC = (r"[^/+#\s]+(/[^/+#\s]+)*", "topic levels without +, #, spaces or empty levels, such as maskwatch")
DEVICE = (r"[A-Za-z0-9_-]+", "letters, digits, - and _ (it is a topic level and a Home Assistant id)")


@dataclass(frozen=True)
class MqttConfig:
    """Counts to a message broker: one event per counted person, a retained state, Home Assistant discovery."""

    host: str | None = option(None, "MQTT broker host name or address (unset: MQTT off)", flag="--mqtt-host",
                              pattern=TEXT)
    port: int = option(1883, "broker port (8883 is the usual TLS port)", flag="--mqtt-port", minimum=1,
                       maximum=65535)
    tls: bool = option(False, "connect with TLS", flag="--mqtt-tls")
    ca_file: str | None = option(None, "CA certificate file for TLS (default: the system's)", flag="--mqtt-ca-file",
                                 pattern=TEXT)
    username: str | None = option(None, "user name at the broker", flag="--mqtt-username", pattern=TEXT)
    password_file: str | None = option(None, "file holding the password (never the password itself: it would "
                                       "show in ps and logs); readable by the service user only",
                                       flag="--mqtt-password-file", pattern=TEXT)
    topic: str = option("maskwatch", "topic prefix: <topic>/<device>/event, /state, /availability",
                        flag="--mqtt-topic", pattern=TOPIC)
    device: str | None = option(None, "this doorway's name in topics and Home Assistant (default: the host "
                                "name)", flag="--mqtt-device", pattern=DEVICE)
    qos: int = option(1, "MQTT quality of service of events (1: at least once, re-sent until acknowledged)",
                      flag="--mqtt-qos", minimum=0, maximum=2)

    def check(self, where: str, error: type) -> None:
        if self.host is None:
            given = [f.name for f in dataclasses.fields(self)
                     if f.name != "host" and getattr(self, f.name) != f.default]
            if given:
                raise error(f"{where} {given[0]} is set but host is not, and MQTT is off without a host — set host "
                            "(--mqtt-host), or leave the other [mqtt] keys out")
        if self.password_file is not None and self.username is None:
            raise error(f"{where} password_file needs a username; give both, or neither")
        if self.ca_file is not None and not self.tls:
            raise error(f"{where} ca_file is set but tls is off; set tls = true (--mqtt-tls) to use it")


@dataclass(frozen=True)
class MetricsConfig(Listening):
    listen: str | None = option(None, "serve Prometheus metrics at [ADDRESS:]PORT, such as 127.0.0.1:9108; a "
                                "bare port binds 127.0.0.1 (unset: off)", flag="--metrics", pattern=LISTEN)


@dataclass(frozen=True)
class RunConfig:
    camera: CameraConfig = field(default_factory=CameraConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    door: DoorConfig = field(default_factory=DoorConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    view: ViewConfig = field(default_factory=ViewConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


SECTIONS = {f.name: f.type for f in dataclasses.fields(RunConfig)}
_EXAMPLES = {int: "640", float: "2.5", str: '"text"', bool: "true",
             list[list[float]]: "[[0.2, 0], [0.8, 0], [0.8, 1], [0.2, 1]]"}


def allowed_types(f: dataclasses.Field) -> tuple[type, ...]:
    """The types a field accepts, None aside."""
    return schema.members(f.type)


def _example(f: dataclasses.Field) -> str:
    """How to write ``f`` in the file: its default, else a value of its type."""
    return f"{f.name} = {_toml_value(f.default) if f.default is not None else _EXAMPLES[allowed_types(f)[0]]}"


def _section(origin: str, name: str, table) -> object:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: {name} must be a table ([{name}]), not {schema.shown(table)}")
    return schema.build(SECTIONS[name], table, f"{origin} [{name}]", ConfigError, place=lambda w, k: f"{w} {k}",
                        example=_example)


def from_dict(data: dict, origin: str = "config") -> RunConfig:
    sections = {}
    for name, table in data.items():
        if name not in SECTIONS:
            raise schema.unknown_key(origin, name, list(SECTIONS), ConfigError)
        sections[name] = _section(origin, name, table)
    return RunConfig(**sections)


def load(path: Path | str) -> RunConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found — check --config "
                          "(edge-run --print-config > edge-run.toml writes one)") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder — give --config a TOML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not text (TOML is UTF-8) — give --config a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path} ({os_reason(exc)})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_dict(data, str(path))


def with_overrides(config: RunConfig, overrides: dict[str, object]) -> RunConfig:
    """``config`` with dotted keys (``"camera.source"``) replaced, each value checked like the file's.

    Values may be typed (from code) or the text of a command-line flag."""
    by_section: dict[str, dict] = {}
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        f = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key)
        meta = dict(f.metadata)
        if isinstance(value, str):
            checked = schema.from_text(f.type, value, meta, flag_of(f), ConfigError)
        else:
            checked = schema.check(f.type, value, meta, flag_of(f), ConfigError)
        by_section.setdefault(section, {})[key] = checked
    replaced = {}
    for name, values in by_section.items():
        section = dataclasses.replace(getattr(config, name), **values)
        if hasattr(section, "check"):
            section.check(f"[{name}]", ConfigError)
        replaced[name] = section
    return dataclasses.replace(config, **replaced)


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def options():
    """(dotted key, flag, field) of every option, in file order."""
    for section, kind in SECTIONS.items():
        for f in dataclasses.fields(kind):
            yield f"{section}.{f.name}", flag_of(f), f


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def to_toml(config: RunConfig) -> str:
    """The config as a TOML file that ``load`` reads back; unset options appear commented out."""
    lines = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        values = getattr(config, section)
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            lines.append(f"# {f.metadata['help']}")
            if value is None and f.metadata["off"]:
                lines.append(f"{f.name} = {_toml_value(f.metadata['off'])}")
            else:
                lines.append(f"# {f.name} =" if value is None else f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
