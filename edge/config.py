"""The runtime's configuration: a frozen dataclass tree, loaded from TOML, overridden by flags.

Every option has one home here, with its default and its help text; the CLI flags and
``--print-config`` are generated from this tree, so a file, a flag and the printed config
can never disagree. Unknown keys, wrong types and impossible values are refused with one
line that names the key and says what to write instead.
"""

import dataclasses
import difflib
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError


def option(default, help: str, flag: str | None = None, minimum: float | None = None,
           choices: tuple | None = None):
    """A config field; its flag is ``--name`` unless ``flag`` gives a clearer or unambiguous one."""
    return field(default=default, metadata={"help": help, "flag": flag, "min": minimum, "choices": choices})


@dataclass(frozen=True)
class CameraConfig:
    source: str = option("csi", "csi, usb, usb:N, /dev/videoN, rtsp://..., http://..., a video file or "
                         "an image folder", flag="--camera")
    width: int = option(640, "capture width (live cameras)", minimum=1)
    height: int = option(480, "capture height (live cameras)", minimum=1)
    fps: float | None = option(None, "ask a live camera for this frame rate", minimum=0.1)
    stall_timeout: float = option(30.0, "exit non-zero after this many seconds without a frame, so the "
                                  "service manager restarts edge-run", minimum=0.1)


@dataclass(frozen=True)
class ModelConfig:
    path: str | None = option(None, "model bundle folder, manifest or artifact (default: the shipped model)",
                              flag="--model")
    backend: str | None = option(None, "classifier backend (default: the best artifact in the bundle)",
                                 choices=("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32"))
    threads: int = option(1, "classifier threads", minimum=1)


@dataclass(frozen=True)
class DetectorConfig:
    name: str = option("auto", "auto: YuNet when its file is present, else Haar eye pairs (fair to masks, "
                       "finds fewer faces)",
                       flag="--detector", choices=("auto", "haar", "ssd", "yunet"))
    model_dir: str | None = option(None, "detector files (default: $MASKWATCH_MODELS or "
                                   "~/.local/share/maskwatch/models)", flag="--detector-dir")
    max_side: int = option(640, "detect on frames shrunk to this longer side", flag="--detect-max-side",
                           minimum=32)
    min_score: float | None = option(None, "detector confidence floor (default: the detector's own)",
                                     flag="--detect-min-score", minimum=0.0)
    threads: int | None = option(None, "OpenCV threads for detection (default: OpenCV's own, one per core)",
                                 flag="--detect-threads", minimum=1)


@dataclass(frozen=True)
class TrackerConfig:
    min_hits: int = option(3, "detections of a face before the person is counted", minimum=1)
    max_misses: int = option(10, "detections a person may be missing from before the track ends", minimum=0)
    min_iou: float = option(0.25, "box overlap that continues a track", minimum=0.0)


@dataclass(frozen=True)
class SpeedConfig:
    """The fast path: spend the CPU on frames and faces where something can change."""

    detect_every: int = option(1, "run the face detector on every k-th frame (on every frame while someone "
                               "in view is not counted yet); between, faces keep their tracked boxes "
                               "and labels", minimum=1)
    motion_gate: bool = option(False, "skip detection while nobody is tracked and the frame has not changed "
                               "since the detector last looked (an idle doorway)")
    motion_threshold: float = option(0.003, "share of pixels that must change to open the motion gate",
                                     minimum=0.0)
    motion_regions: bool = option(False, "search only the parts of the frame that changed since the "
                                  "detector last looked, and around tracked faces (every "
                                  "10th detection still searches the whole frame)")
    settled: float | None = option(0.9, "stop classifying a counted person once the mean probability of "
                                   "their label reaches this (counts never change after counting); "
                                   "unset: classify every face in every frame", minimum=0.5)


@dataclass(frozen=True)
class AlertsConfig:
    backend: str = option("gpiozero", "GPIO library; none runs without outputs", flag="--gpio",
                          choices=("gpiozero", "jetson", "none"))
    green_led: int | str | None = option(None, "pin of the green LED (masked person), e.g. 17 or \"GPIO17\"")
    red_led: int | str | None = option(None, "pin of the red LED (unmasked person)")
    buzzer: int | str | None = option(None, "pin of the buzzer (beeps once per unmasked person)")
    relay: int | str | None = option(None, "pin of a door-release relay (pulsed per compliant entry)")
    active_high: bool = option(True, "LEDs and buzzer are on when their pin is high")
    relay_active_high: bool = option(False, "the relay is energised by a high pin (most modules: low)")
    hold: float = option(2.0, "seconds an LED stays on after the person was last seen, so it does not "
                         "flicker", flag="--led-hold", minimum=0.0)
    beeps: int = option(3, "buzzer beeps per unmasked person", minimum=0)
    beep_on: float = option(0.15, "seconds of each beep", minimum=0.01)
    beep_off: float = option(0.10, "seconds between beeps", minimum=0.01)
    relay_seconds: float = option(3.0, "seconds the relay stays energised", minimum=0.1)


@dataclass(frozen=True)
class OutputConfig:
    db: str = option("counts.db", "SQLite file for the counts", flag="--db")
    detections: str | None = option(None, "write one JSON line per frame to this file")
    snapshots: str | None = option(None, "save an annotated frame per counted person to this folder "
                                   "(off by default: it stores faces)")
    summary_every: float = option(60.0, "seconds between summary log lines", minimum=0.1)


@dataclass(frozen=True)
class RunConfig:
    camera: CameraConfig = field(default_factory=CameraConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    speed: SpeedConfig = field(default_factory=SpeedConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


SECTIONS = {f.name: f.type for f in dataclasses.fields(RunConfig)}


def allowed_types(f: dataclasses.Field) -> tuple[type, ...]:
    """The types a field accepts, None aside."""
    annotation = f.type
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(a for a in typing.get_args(annotation) if a is not type(None))
    return (annotation,)


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _convert(kind: type, value):
    """``value`` as ``kind``, or None if TOML gave another type (true is not 1, 1 is a valid 1.0)."""
    if isinstance(value, bool):
        return value if kind is bool else None
    if kind is float and isinstance(value, int | float):
        return float(value)
    return value if kind in (int, str) and isinstance(value, kind) else None


def _check_value(where: str, f: dataclasses.Field, value):
    """The value converted to the field's type, or a ConfigError naming ``where`` it was set."""
    allowed = allowed_types(f)
    converted = next((c for c in (_convert(kind, value) for kind in allowed) if c is not None), None)
    if converted is None:
        wanted = " or ".join(_TYPE_WORDS[k] for k in allowed)
        example = {int: "640", float: "2.5", str: '"text"', bool: "true"}[allowed[0]]
        raise ConfigError(f"{where} must be {wanted}, not {value!r} — e.g. {f.name} = {example}")
    choices, minimum = f.metadata["choices"], f.metadata["min"]
    if choices and converted not in choices:
        raise ConfigError(f"{where} is {converted!r}; choose one of {', '.join(choices)}")
    if minimum is not None and converted < minimum:
        raise ConfigError(f"{where} is {converted!r}; it must be at least {minimum}")
    return converted


def _unknown(where: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return ConfigError(f"{where}: unknown key {key!r} — {hint}")


def from_dict(data: dict, origin: str = "config") -> RunConfig:
    sections = {}
    for name, table in data.items():
        if name not in SECTIONS:
            raise _unknown(origin, name, list(SECTIONS))
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: {name} must be a table ([{name}]), not {table!r}")
        kind = SECTIONS[name]
        fields = {f.name: f for f in dataclasses.fields(kind)}
        values = {}
        for key, value in table.items():
            if key not in fields:
                raise _unknown(f"{origin} [{name}]", key, list(fields))
            values[key] = _check_value(f"{origin} [{name}] {key}", fields[key], value)
        sections[name] = kind(**values)
    return RunConfig(**sections)


def load(path: Path | str) -> RunConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found — check --config "
                          "(edge-run --print-config > edge-run.toml writes one)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_dict(data, str(path))


def with_overrides(config: RunConfig, overrides: dict[str, object]) -> RunConfig:
    """``config`` with dotted keys (``"camera.source"``) replaced, each value checked like the file's."""
    by_section: dict[str, dict] = {}
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        f = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == key)
        by_section.setdefault(section, {})[key] = _check_value(flag_of(f), f, value)
    return dataclasses.replace(config, **{name: dataclasses.replace(getattr(config, name), **values)
                                          for name, values in by_section.items()})


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
            lines.append(f"# {f.name} =" if value is None else f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)
