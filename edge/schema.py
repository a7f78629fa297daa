"""The one validation layer for what people and files hand the runtime: the config and the manifest.

A schema is a frozen dataclass whose fields carry their range in ``spec(...)`` metadata. ``build``
makes one from parsed TOML or JSON, ``from_text`` checks a command-line flag's string. Types, ranges,
choices, patterns, list lengths and finite numbers are pydantic's work (each field's type and metadata
become one strict pydantic type); this module words pydantic's verdict as one line that names the key
and what it may be, and finds the key meant by an unknown one. Cross-field rules live in a schema's
own ``check()`` method, which ``build`` calls last.
"""

import dataclasses
import difflib
import functools
import re
import tomllib
import types
import typing
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from .errors import EdgeError

_NONE = type(None)
# strict: no text taken for a number, no true for 1; a number must be finite; patterns are Python's (the config's
# use a look-ahead), anchored below to the whole value.
_STRICT = ConfigDict(strict=True, allow_inf_nan=False, regex_engine="python-re")


def spec(default=dataclasses.MISSING, *, help: str = "", flag: str | None = None,
         minimum: float | None = None, maximum: float | None = None, choices: tuple | None = None,
         off: str | None = None, pattern: tuple[str, str] | None = None, items: tuple[int, int] | None = None,
         default_factory=dataclasses.MISSING):
    """A schema field. ``minimum``/``maximum`` bound a number; ``items`` the length of a list;
    ``pattern`` a string, as (regular expression for the whole of it, what it means in words);
    ``off`` is the word that sets an optional value to None (TOML has no null, so "unset" needs one)."""
    metadata = {"help": help, "flag": flag, "min": minimum, "max": maximum, "choices": choices, "off": off,
                "pattern": pattern, "items": items}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


_NO_META = {"help": "", "flag": None, "min": None, "max": None, "choices": None, "off": None, "pattern": None,
            "items": None, "example": None}


def meta_of(f: dataclasses.Field) -> dict:
    return {**_NO_META, **f.metadata}


def members(annotation) -> tuple:
    """The types a field's annotation allows, None aside."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return tuple(a for a in typing.get_args(annotation) if a is not _NONE)
    return (annotation,)


def optional(annotation) -> bool:
    return (isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union) \
        and _NONE in typing.get_args(annotation)


def _word(kind) -> str:
    origin = typing.get_origin(kind)
    if origin is list:
        return "a list"
    if origin is dict or kind is dict or dataclasses.is_dataclass(kind):
        return "a table of keys and values"
    return {int: "a whole number", float: "a number", str: "a text", bool: "true or false"}.get(kind, "a value")


def shown(value) -> str:
    """A value as a person would write it, cut short: never a Python type name."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else f"{value}"
    return text if len(text) <= 40 else text[:37] + "..."


def join(where: str, key: str) -> str:
    """A key's place in a nested table: ``artifacts[0].sha256``."""
    return f"{where}.{key}" if where else key


def unknown_key(where: str, key: str, known: list[str], error: type) -> EdgeError:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return error(f"{where + ': ' if where else ''}unknown key {shown(key)} — {hint}")


def _constrained(kind, meta: dict):
    """``kind`` (one member of a field's type) with the field's range, pattern and length, as pydantic types it."""
    if kind in (int, float):
        return Annotated[kind, Field(ge=meta["min"], le=meta["max"])]
    if kind is str and meta["pattern"] is not None:
        flags, body = re.fullmatch(r"(\(\?[aiLmsux]+\))?(.*)", meta["pattern"][0], re.S).groups()
        return Annotated[str, StringConstraints(pattern=rf"{flags or ''}\A(?:{body})\Z")]
    if typing.get_origin(kind) is list and meta["items"] is not None:
        return Annotated[kind, Field(min_length=meta["items"][0], max_length=meta["items"][1])]
    return kind


@functools.cache
def _adapter(kind, frozen_meta: tuple) -> TypeAdapter:
    return TypeAdapter(_constrained(kind, dict(frozen_meta)), config=_STRICT)


def _explain(problem: dict, kind, value, meta: dict) -> str:
    """Pydantic's verdict on ``value`` as ``kind``, as the words that follow the key's name."""
    kind_of = problem["type"]
    if problem["loc"] and typing.get_origin(kind) in (list, dict):  # an item of a list or a table is wrong
        place, item = "", kind
        for part in problem["loc"]:
            if typing.get_origin(item) not in (list, dict):
                break
            place += f"[{part}]" if isinstance(part, int) else f".{part}"
            item = typing.get_args(item)[-1] if typing.get_args(item) else Any
        if kind_of == "finite_number":
            return f"{place}\0is {shown(problem['input'])}; it must be a finite number"
        return f"{place}\0must be {_word(item)}, not {shown(problem['input'])}"
    if kind_of in ("greater_than_equal", "less_than_equal"):
        value = float(value) if kind is float else value  # as it was read: a whole number in a float key is one
        low, high = meta["min"], meta["max"]
        if low is not None and high is not None:
            return f"is {shown(value)}; it must be between {low} and {high}"
        return f"is {shown(value)}; it must be at {'least' if low is not None else 'most'} " \
               f"{low if low is not None else high}"
    if kind_of == "finite_number":
        return f"is {shown(value)}; it must be a finite number"
    if kind_of == "string_pattern_mismatch":
        return f"is {shown(value)}; it must be {meta['pattern'][1]}"
    if kind_of in ("too_short", "too_long"):
        low, high = meta["items"]
        many = f"{low}" if low == high else f"{low} to {high}"
        return f"has {len(value)} entries; it must have {many}"
    return f"must be {_word(kind)}, not {shown(value)}"


def _one(kind, value, meta: dict, where: str, error: type):
    """``value`` as ``kind`` with the field's constraints, or the words saying why not (a str)."""
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where, error)
    origin = typing.get_origin(kind)
    if origin is list and typing.get_args(kind) and dataclasses.is_dataclass(typing.get_args(kind)[0]):
        rows = _one(list[Any], value, {**meta, "items": None}, where, error)
        if isinstance(rows, _Wrong):
            return rows
        built = [build(typing.get_args(kind)[0], row, f"{where}[{i}]", error) for i, row in enumerate(rows)]
        length = _one(list[Any], value, meta, where, error)  # its length, once every row is known good
        return length if isinstance(length, _Wrong) else built
    try:
        checked = _adapter(kind, tuple(sorted((k, v) for k, v in meta.items() if k != "example"))).validate_python(
            value)
    except ValidationError as exc:
        return _Wrong(_explain(exc.errors()[0], kind, value, meta), exc.errors()[0]["type"])
    if meta["choices"] is not None and checked not in meta["choices"]:
        return _Wrong(f"is {shown(value)}; choose one of {', '.join(map(str, meta['choices']))}", "choice")
    return checked


@dataclasses.dataclass
class _Wrong:
    words: str
    kind: str

    @property
    def of_type(self) -> bool:
        """The value is not of the type at all (as against of the type, but out of its range)."""
        return self.kind.endswith("_type") or self.kind in ("model_type", "dataclass_type", "is_instance_of")


def check(annotation, value, meta: dict, where: str, error: type):
    """One field's value, typed and ranged; ``error`` naming ``where`` if it is not."""
    meta = {**_NO_META, **meta}
    if meta["off"] is not None and value == meta["off"]:
        return None
    if value is None and optional(annotation):
        return None
    kinds = members(annotation)
    wrong = []
    for kind in kinds:
        result = _one(kind, value, meta, where, error)
        if not isinstance(result, _Wrong):
            return result
        if not result.of_type:  # of this type, but not in its range: that is what to say
            place, _, words = result.words.rpartition("\0")
            raise error(f"{where}{place} {words}")
        wrong.append(result)
    # A type error shows how to write the key, when the caller gave an example.
    example = f" — e.g. {meta['example']}" if meta["example"] else ""
    if len(kinds) == 1 and meta["off"] is None:
        place, _, words = wrong[0].words.rpartition("\0")
        raise error(f"{where}{place} {words}{example if not place else ''}")
    words = " or ".join([_word(k) for k in kinds] + ([f'"{meta["off"]}"'] if meta["off"] else []))
    raise error(f"{where} must be {words}, not {shown(value)}{example}")


def build(cls, data, where: str, error: type, place=None, example=None):
    """An instance of the schema ``cls`` from a parsed table, every key checked.

    ``place(where, key)`` names a key for messages (default ``where.key``); ``example(field)``, when
    given, is how to write a field, shown with a type error."""
    place = place or join
    if not isinstance(data, dict):
        raise error(f"{where or 'it'} must be a table of keys and values, not {shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise unknown_key(where, key, list(fields), error)
    missing = [name for name, f in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise error(f"{where + ': ' if where else ''}missing key {missing[0]!r}")
    hints = typing.get_type_hints(cls)
    values = {key: check(hints[key], value, {**fields[key].metadata, "example": example and example(fields[key])},
                         place(where, key), error)
              for key, value in data.items()}
    instance = cls(**values)
    if hasattr(instance, "check"):
        instance.check(where, error)
    return instance


def from_text(annotation, text: str, meta: dict, where: str, error: type):
    """A flag's string as the field's type, then checked like a file's value."""
    meta = {**_NO_META, **meta}
    if meta["off"] is not None and text == meta["off"]:
        return None
    for kind in members(annotation):
        if kind is int and re.fullmatch(r"[+-]?\d+", text.strip()):
            return check(annotation, int(text), meta, where, error)
        if kind is float:
            try:
                number = float(text)
            except ValueError:
                continue
            return check(annotation, number, meta, where, error)
        if kind is str:
            return check(annotation, text, meta, where, error)
        if typing.get_origin(kind) is list:  # written as in the file: [[0.2, 0], [0.8, 0], [0.5, 1]]
            try:
                value = tomllib.loads(f"value = {text}")["value"]
            except tomllib.TOMLDecodeError:
                raise error(f"{where} is {shown(text)}; write it as in the config file, such as "
                            "[[0.2, 0], [0.8, 0], [0.5, 1]]") from None
            return check(annotation, value, meta, where, error)
    return check(annotation, text, meta, where, error)  # the type error, worded like a file's
