"""The one validation layer for what people and files hand the runtime: the config and the manifest.

A schema is a frozen dataclass whose fields carry their range in ``spec(...)`` metadata. ``build``
makes one from parsed TOML or JSON: unknown and missing keys, wrong types, non-finite numbers and
values out of range are refused with one line that names the key and what it may be. ``from_text``
does the same for a command-line flag's string. Cross-field rules live in a schema's own
``check()`` method, which ``build`` calls last.
"""

import dataclasses
import difflib
import math
import re
import types
import typing
from typing import Any

from .errors import EdgeError

_NONE = type(None)


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
    if origin is dict or kind is dict:
        return "a table of keys and values"
    if dataclasses.is_dataclass(kind):
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


class Invalid(Exception):
    """One value is wrong; ``build`` turns it into the caller's error class with the key's place."""


def _one(kind, value, where: str, error: type):
    """``value`` as ``kind`` or raise Invalid (its text follows the key's name)."""
    if kind is Any:
        return value
    origin = typing.get_origin(kind)
    if origin is list:
        if not isinstance(value, list):
            raise Invalid(f"must be a list, not {shown(value)}")
        (item,) = typing.get_args(kind) or (Any,)
        return [check(item, v, {}, f"{where}[{i}]", error) for i, v in enumerate(value)]
    if origin is dict or kind is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise Invalid(f"must be {_word(kind)}, not {shown(value)}")
        _, item = typing.get_args(kind) or (str, Any)
        return {k: check(item, v, {}, f"{where}.{k}", error) for k, v in value.items()}
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where, error)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise Invalid(f"is {shown(value)}; it must be a finite number")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"schema type {kind} is not supported")
    raise Invalid(f"must be {_word(kind)}, not {shown(value)}")


def _in_range(value, meta: dict) -> None:
    low, high = meta["min"], meta["max"]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and ((low is not None and value < low) or (high is not None and value > high)):
        if low is not None and high is not None:
            raise Invalid(f"is {shown(value)}; it must be between {low} and {high}")
        raise Invalid(f"is {shown(value)}; it must be at {'least' if low is not None else 'most'} "
                      f"{low if low is not None else high}")
    if meta["choices"] is not None and value not in meta["choices"]:
        raise Invalid(f"is {shown(value)}; choose one of {', '.join(map(str, meta['choices']))}")
    if meta["pattern"] is not None and isinstance(value, str) and not re.fullmatch(meta["pattern"][0], value):
        raise Invalid(f"is {shown(value)}; it must be {meta['pattern'][1]}")
    if meta["items"] is not None and isinstance(value, list):
        low, high = meta["items"]
        if not low <= len(value) <= high:
            many = f"{low}" if low == high else f"{low} to {high}"
            raise Invalid(f"has {len(value)} entries; it must have {many}")


def check(annotation, value, meta: dict, where: str, error: type):
    """One field's value, typed and ranged; ``error`` naming ``where`` if it is not."""
    meta = {**_NO_META, **meta}
    if meta["off"] is not None and value == meta["off"]:
        return None
    if value is None and optional(annotation):
        return None
    kinds = members(annotation)
    problems = []
    for kind in kinds:
        try:
            converted = _one(kind, value, where, error)
        except Invalid as exc:
            problems.append(str(exc))
            continue
        try:
            _in_range(converted, meta)
        except Invalid as exc:
            raise error(f"{where} {exc}") from None
        return converted
    # A type error shows how to write the key, when the caller gave an example.
    example = f" — e.g. {meta['example']}" if meta["example"] else ""
    if len(kinds) == 1 and (meta["off"] is None or not problems[0].startswith("must be ")):
        raise error(f"{where} {problems[0]}{example if problems[0].startswith('must be ') else ''}")
    words = " or ".join([_word(k) for k in kinds] + ([f'"{meta["off"]}"'] if meta["off"] else []))
    raise error(f"{where} must be {words}, not {shown(value)}{example}")


def join(where: str, key: str) -> str:
    """A key's place in a nested table: ``artifacts[0].sha256``."""
    return f"{where}.{key}" if where else key


def unknown_key(where: str, key: str, known: list[str], error: type) -> EdgeError:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return error(f"{where + ': ' if where else ''}unknown key {shown(key)} — {hint}")


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
    return check(annotation, text, meta, where, error)  # the type error, worded like a file's
