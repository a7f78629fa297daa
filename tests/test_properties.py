"""Property-based tests: whatever values a config, a flag or a manifest holds, the runtime either
refuses them in one line naming the key, or runs with values in range and counts the truth."""

import dataclasses
import json
import math
import re
import tempfile
import typing
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import config as configs
from edge import schema
from edge.cli.run import parser, resolve
from edge.errors import ConfigError, EdgeError
from edge.paths import SHIPPED_MODELS

# Text a person must never see: a traceback's furniture or a Python type's name.
INTERNALS = re.compile(r"Traceback|NoneType|<class |object at 0x|\[Errno|Expecting value|JSONDecodeError")

scalars = (st.none() | st.booleans() | st.integers(-10**9, 10**9) | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=10))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=5)


def near(f: dataclasses.Field):
    """Values around a field's own range and choices, where mistakes live."""
    meta = schema.meta_of(f)
    values = [st.sampled_from(meta["choices"])] if meta["choices"] else []
    for bound in (meta["min"], meta["max"]):
        if bound is not None:
            values.append(st.sampled_from([bound, bound - 1, bound + 1, bound * 2, -bound, bound + 0.5]))
            values.append(st.floats(bound - 2, bound + 2) | st.integers(int(bound) - 2, int(bound) + 2))
    if meta["off"]:
        values.append(st.just(meta["off"]))
    return st.one_of(*values, json_values)


def assert_one_line(exc: Exception) -> None:
    message = str(exc)
    assert message and "\n" not in message and not INTERNALS.search(message), message


def in_range(value, f: dataclasses.Field) -> bool:
    """Whether ``value`` is one of what ``f``'s own metadata allows, checked here by hand, not by the validator."""
    meta = schema.meta_of(f)
    kinds = typing.get_args(f.type) or (f.type,)
    if value is None:
        return type(None) in kinds
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int | float) and (int in kinds or float in kinds):
        return (isinstance(value, float) <= (float in kinds) and math.isfinite(value)
                and (meta["min"] is None or value >= meta["min"]) and (meta["max"] is None or value <= meta["max"])
                and (meta["choices"] is None or value in meta["choices"]))
    if isinstance(value, str) and str in kinds:
        return ((meta["choices"] is None or value in meta["choices"])
                and (meta["pattern"] is None or re.fullmatch(meta["pattern"][0], value) is not None))
    return False


def assert_in_range(config: configs.RunConfig) -> None:
    """Every value of an accepted config is of its field's type and within its range, choices and pattern."""
    for section in configs.SECTIONS:
        values = getattr(config, section)
        for f in dataclasses.fields(values):
            assert in_range(getattr(values, f.name), f), (section, f.name, getattr(values, f.name))


def fields_of(section):
    return st.sampled_from(dataclasses.fields(configs.SECTIONS[section]))


@st.composite
def config_tables(draw):
    data = {}
    for section in draw(st.lists(st.sampled_from(list(configs.SECTIONS)), max_size=4, unique=True)):
        table = {}
        for f in draw(st.lists(fields_of(section), max_size=4, unique_by=lambda f: f.name)):
            table[f.name] = draw(near(f))
        if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
            table[draw(st.text(max_size=8))] = draw(scalars)  # now and then a key nobody knows
        data[section] = table if draw(st.integers(0, 19)) else draw(scalars)
    return data


@settings(max_examples=400, deadline=None)
@given(data=config_tables())
def test_any_config_table_is_a_config_in_range_or_one_line_naming_the_key(data):
    try:
        config = configs.from_dict(data, "edge-run.toml")
    except ConfigError as exc:
        assert_one_line(exc)
        assert str(exc).startswith("edge-run.toml")
        return
    assert_in_range(config)


VALUE_FLAGS = [(flag, f) for _, flag, f in configs.options() if bool not in configs.allowed_types(f)]


@st.composite
def command_lines(draw):
    argv = []
    for flag, f in draw(st.lists(st.sampled_from(VALUE_FLAGS), max_size=4, unique_by=lambda pair: pair[0])):
        value = draw(near(f).map(lambda v: v if isinstance(v, str) else json.dumps(v)) | st.text(max_size=6))
        argv += [flag, value]
    return argv


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_any_flags_are_a_config_in_range_or_one_line(argv, capsys):
    try:
        config = resolve(parser().parse_args(argv))
    except ConfigError as exc:
        assert_one_line(exc)
        return
    except SystemExit as exit:  # argparse's own refusal: a value that looks like a flag, say
        err = capsys.readouterr().err
        assert exit.code == 2 and err.count("\n") == 1 and err.startswith("edge-run: error: "), err
        return
    assert_in_range(config)


# --- the fast path's settings never change a count -------------------------------------------

@pytest.fixture(scope="module")
def people(tmp_path_factory, mask_images):
    from test_bad_input import people_clip

    return people_clip(tmp_path_factory.mktemp("clip") / "two.mp4", mask_images)


speed_settings = st.fixed_dictionaries({
    "--detect-every": st.integers(1, 30).map(str),
    "--motion-threshold": st.floats(0.0, 0.01).map(repr),
    "--settled": st.sampled_from(["off", "0.5", "0.9", "1.0"]),
}, optional={"--motion-gate": st.just(None), "--motion-regions": st.just(None)})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=speed_settings)
def test_every_accepted_fast_path_setting_counts_the_truth(flags, people, face_models, capsys):
    from test_bad_input import counts

    from edge.cli.run import main as edge_run

    argv = [item for flag, value in flags.items() for item in (flag, value) if item is not None]
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "counts.db"
        code = edge_run(["--camera", str(people), "--detector-dir", str(face_models), "--db", str(db), *argv])
        assert code == 0, capsys.readouterr().err
        assert counts(db) == {"without_mask": 2}, argv


# --- a manifest holds what it holds, or is refused -------------------------------------------

DEFAULT = json.loads((SHIPPED_MODELS / "default" / "manifest.json").read_text())


def places(data, prefix=()):
    """Every (path, value) in the manifest's JSON tree."""
    yield prefix, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from places(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from places(value, (*prefix, index))


PLACES = [path for path, _ in places(DEFAULT) if path]


def replaced(data, path, value):
    """``data`` with the value at ``path`` replaced by ``value`` (``...``: removed)."""
    if len(path) == 1:
        copy = dict(data) if isinstance(data, dict) else list(data)
        if value is ...:
            del copy[path[0]]
        else:
            copy[path[0]] = value
        return copy
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = replaced(data[path[0]], path[1:], value)
    return copy


def value_near(original):
    if isinstance(original, bool):
        return st.booleans()
    if isinstance(original, int | float):
        return st.sampled_from([original * 2, -original, original + 1, 0, original / 2]) | st.floats(-2, 2)
    if isinstance(original, str):
        return st.sampled_from([original.upper(), original[::-1], original + "x", ""])
    if isinstance(original, list) and original:
        return st.permutations(original) | st.just(original[:-1]) | st.just([*original, original[0]])
    return st.nothing()


@st.composite
def manifest_edits(draw):
    data = DEFAULT
    edits = []
    for path in draw(st.lists(st.sampled_from(PLACES), min_size=1, max_size=2, unique=True)):
        try:
            original = next(v for p, v in places(data) if p == path)
        except StopIteration:
            continue  # an earlier edit removed it
        value = draw(value_near(original) | json_values | st.just(...))  # ... removes the key
        data = replaced(data, path, value)
        edits.append(path)
    return data, edits


@pytest.fixture(scope="module")
def real_crops(mask_images):
    from edge.crops import whole_image
    from edge.images import read_image

    paths = [p for label in ("with_mask", "without_mask") for p in sorted((mask_images / label).glob("*.jpg"))[:8]]
    return np.stack([whole_image(read_image(p).bgr, 128) for p in paths])


def decisions(classifier, crops) -> list[str]:
    from edge.decision import predict_labels

    m = classifier.manifest
    return [m.labels[i] for i in predict_labels(classifier.classify(crops), m.violation_index, classifier.threshold)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edit=manifest_edits(), backend=st.sampled_from(["litert-int8", "onnx-int8", "onnx-fp32"]))
def test_an_edited_manifest_is_refused_in_one_line_or_decides_every_face_as_before(edit, backend, real_crops):
    from edge.classifiers import load_classifier

    data, paths = edit
    with tempfile.TemporaryDirectory() as folder:
        bundle = Path(folder)
        for artifact in DEFAULT["artifacts"]:
            (bundle / artifact["file"]).symlink_to(SHIPPED_MODELS / "default" / artifact["file"])
        (bundle / "manifest.json").write_text(json.dumps(data))
        try:
            classifier = load_classifier(bundle, backend)
        except EdgeError as exc:
            assert_one_line(exc)
            return
        original = load_classifier(SHIPPED_MODELS / "default", backend)
        assert decisions(classifier, real_crops) == decisions(original, real_crops), paths
