"""Bad input as a new user gives it: each is refused in one line with a non-zero exit, or survived
with the right count. None ends in a traceback, a silent exit 0, or a count that is not the truth."""

import json
import shutil
import sqlite3
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import REPO, unmasked_face

from edge.cli.run import main as edge_run
from edge.paths import SHIPPED_MODELS


def one_error_line(capsys, code, expected_code=1) -> str:
    """The single line a failed command printed, after checking it failed with ``expected_code``."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " WARNING " not in line and not line.startswith("INFO:")]
    assert code == expected_code, err
    assert len(lines) == 1 and lines[0].startswith("edge-run: error: "), err
    assert "Traceback" not in err and "[Errno" not in err
    return lines[0]


def people_clip(path, mask_images, damage: float | None = None):
    """Two unmasked people walk through one after the other (mp4v); ``damage`` zeroes 1/30 of the
    file's bytes from that fraction of it, which lands between the two."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (640, 480))
    for index in (3, 2):
        face = unmasked_face(mask_images, index)
        for i in range(40):
            frame = np.full((480, 640, 3), 80, np.uint8)
            frame[140:340, 20 + i * 10:220 + i * 10] = face
            writer.write(frame)
        for _ in range(20):
            writer.write(np.full((480, 640, 3), 80, np.uint8))
    writer.release()
    if damage is not None:
        data = bytearray(path.read_bytes())
        start, length = int(len(data) * damage), len(data) // 30
        data[start:start + length] = bytes(length)
        path.write_bytes(bytes(data))
    return path


def counts(db) -> dict:
    return dict(sqlite3.connect(db).execute("SELECT label, COUNT(*) FROM counts GROUP BY label").fetchall())


@pytest.fixture
def clip(tmp_path, mask_images):
    return people_clip(tmp_path / "two.mp4", mask_images)


def run(tmp_path, face_models, camera, *extra, model="default"):
    return edge_run(["--camera", str(camera), "--model", str(model), "--detector-dir", str(face_models),
                     "--db", str(tmp_path / "counts.db"), *extra])


@pytest.mark.parametrize(("flags", "message", "code"), [
    (["--min-iou", "1.5"], "--min-iou is 1.5; it must be between 0.05 and 0.9", 1),
    (["--detect-min-score", "5"], "--detect-min-score is 5.0; it must be between 0.0 and 0.99", 1),
    (["--settled", "1.5"], "--settled is 1.5; it must be between 0.5 and 1.0", 1),
    (["--motion-threshold", "0.5"], "--motion-threshold is 0.5; it must be between 0.0 and 0.01", 1),
    (["--min-iou", "nan"], "--min-iou is nan; it must be a finite number", 1),
    (["--width", "wide"], "--width must be a whole number, not 'wide'", 1),
    (["--db", ""], "--db is ''; it must be a file path (not empty, not :memory:)", 1),
    (["--db", ":memory:"], "--db is ':memory:'", 1),
    (["--red-led", "17", "--buzzer", "GPIO17"], "red_led and buzzer are both pin GPIO17", 1),
    (["--max-frames", "0"], "argument --max-frames: '0' is not a whole number of at least 1", 2),
    (["--duration", "-1"], "argument --duration: '-1' is not a number above 0", 2),
    (["--backend", "tflite"], "--backend is 'tflite'; choose one of", 1),
])
def test_impossible_values_are_refused_before_anything_runs(flags, message, code, tmp_path, capsys):
    try:
        result = edge_run(["--camera", str(tmp_path), "--db", str(tmp_path / "counts.db"), *flags])
    except SystemExit as exit:
        result = exit.code
    assert message in one_error_line(capsys, result, code)
    assert not (tmp_path / "counts.db").exists()


@pytest.mark.parametrize(("toml", "message"), [
    ("[speed]\nsettled = 2\n", "[speed] settled is 2.0; it must be between 0.5 and 1.0"),
    ("[speed]\nmotion_threshold = 1\n", "[speed] motion_threshold is 1.0; it must be between 0.0 and 0.01"),
    ("[tracker]\nmin_iou = inf\n", "[tracker] min_iou is inf; it must be a finite number"),
    ('[speed]\nsettled = "never"\n', '[speed] settled must be a number or "off", not \'never\''),
])
def test_impossible_values_in_a_config_file_name_the_key_and_range(toml, message, tmp_path, capsys):
    (tmp_path / "c.toml").write_text(toml)
    assert message in one_error_line(capsys, edge_run(["--config", str(tmp_path / "c.toml"), "--check"]))


def test_a_config_that_is_no_toml_text_is_one_line(tmp_path, capsys):
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe[camera]\n")
    for config, message in [(tmp_path, "is a folder — give --config a TOML file"),
                            (tmp_path / "binary.toml", "is not text (TOML is UTF-8)")]:
        assert message in one_error_line(capsys, edge_run(["--config", str(config), "--check"]))


def test_settled_can_be_switched_off_by_flag_and_file(tmp_path, capsys):
    from edge import config as configs
    from edge.cli.run import parser, resolve

    assert resolve(parser().parse_args(["--settled", "off"])).speed.settled is None
    printed = configs.to_toml(resolve(parser().parse_args(["--settled", "off"])))
    assert 'settled = "off"' in printed
    (tmp_path / "c.toml").write_text(printed)
    assert configs.load(tmp_path / "c.toml").speed.settled is None


def edit_manifest(tmp_path, change):
    bundle = tmp_path / "bundle"
    shutil.copytree(SHIPPED_MODELS / "default", bundle)
    data = json.loads((bundle / "manifest.json").read_text())
    change(data)
    (bundle / "manifest.json").write_text(json.dumps(data))
    return bundle


def swap_labels(data):
    data["labels"].reverse()


def set_everywhere(key, value):
    def change(data):
        data[key] = value
    return change


@pytest.mark.parametrize(("change", "message"), [
    (swap_labels, "fails its self-test: its manifest's labels, threshold, input or crop were changed after export"),
    (lambda d: d["crop"].update(margin=0.5), "fails its self-test: its manifest's labels, threshold"),
    (set_everywhere("violation_label", "with_mask"), "fails its self-test: its manifest's labels, threshold"),
    (set_everywhere("threshold", 2.0), "threshold is 2.0; it must be between 0.001 and 0.999"),
    (set_everywhere("threshold", "0.05"), "threshold must be a number, not '0.05'"),
    (set_everywhere("input_size", 96), "input.shape is [-1, 128, 128, 3], but input_size 96 means"),
    (set_everywhere("input_size", "128"), "input_size must be a whole number, not '128'"),
    (set_everywhere("artifacts", []), "artifacts has 0 entries; it must have 1 to 16"),
    (set_everywhere("crop", {"margin": 0.2}), "crop: missing key 'square'"),
    (set_everywhere("violation_label", "no_mask"), "violation_label 'no_mask' is not one of the labels"),
    (lambda d: d["artifacts"][0].update(file="../../etc/passwd"), "it must be a file name inside the bundle"),
    (lambda d: d.pop("selftest"), "schema version 4 needs its selftest"),
    (lambda d: d.pop("policy"), "schema version 4 needs its policy"),
    (lambda d: d["policy"].update(without_mask="fine"), "policy without_mask = 'fine': each key must be a label"),
])
def test_a_manifest_that_lies_is_refused_by_check_and_run(change, message, tmp_path, face_models, clip, capsys):
    bundle = edit_manifest(tmp_path, change)
    for flags in (["--check"], []):
        line = one_error_line(capsys, run(tmp_path, face_models, clip, *flags, model=bundle))
        assert message in line, line
    assert not (tmp_path / "counts.db").exists() or counts(tmp_path / "counts.db") == {}


def test_a_stale_seal_on_swapped_labels_is_caught_by_the_models_own_answers(tmp_path):
    """Labels swapped and the digest made again (as a careless re-seal would): the probabilities still differ."""
    from edge import selftest
    from edge.classifiers import load_classifier
    from edge.errors import ModelMismatchError

    def swap_and_reseal(data):
        from edge import manifest as manifests

        swap_labels(data)
        data["selftest"]["contract"] = selftest.contract(manifests.parse(
            {**data, "selftest": None, "schema_version": 1, "policy": None,
             "artifacts": [{**a, "selftest": None} for a in data["artifacts"]]}))

    bundle = edit_manifest(tmp_path, swap_and_reseal)
    for backend in ("litert-int8", "onnx-int8", "onnx-fp32"):
        with pytest.raises(ModelMismatchError, match="fails its self-test: on test picture .* it gives"):
            load_classifier(bundle, backend)


def test_a_manifest_that_is_not_json_says_where_not_what_the_decoder_said(tmp_path, face_models, clip, capsys):
    bundle = edit_manifest(tmp_path, lambda d: None)
    (bundle / "manifest.json").write_text('{"schema_version": 2,\n "labels": [}')
    line = one_error_line(capsys, run(tmp_path, face_models, clip, "--check", model=bundle))
    assert line.endswith("manifest.json is not valid JSON (line 2) — re-export the model, or copy the bundle again")


def test_a_damaged_video_is_decoded_past_the_damage_and_everyone_after_it_counted(tmp_path, mask_images,
                                                                                   face_models, caplog):
    whole = people_clip(tmp_path / "whole.mp4", mask_images)
    assert run(tmp_path, face_models, whole, "--db", str(tmp_path / "whole.db")) == 0
    damaged = people_clip(tmp_path / "damaged.mp4", mask_images, damage=0.47)
    caplog.clear()
    assert run(tmp_path, face_models, damaged, "--db", str(tmp_path / "damaged.db")) == 0
    assert counts(tmp_path / "damaged.db") == counts(tmp_path / "whole.db") == {"without_mask": 2}
    skipped = [r.getMessage() for r in caplog.records if "could not be decoded" in r.getMessage()]
    assert len(skipped) == 1 and skipped[0].startswith(f"2 frame(s) of {damaged}")  # once, with a count


def test_a_file_that_is_no_video_and_a_source_without_a_readable_frame_are_errors(tmp_path, face_models, capsys):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 160_000, dtype=np.uint8).tobytes())
    line = one_error_line(capsys, run(tmp_path, face_models, noise))
    assert "noise.bin is not a video (no video codec)" in line
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("a.jpg", "b.png", "c.jpg"):
        (broken / name).write_bytes(b"\xff\xd8\xff\xe0 not really")
    lines = {one_error_line(capsys, run(tmp_path, face_models, broken, *flags)) for flags in ([], ["--check"])}
    assert lines == {f"edge-run: error: {broken} gave no readable frame (3 could not be decoded) — check the file, "
                     "folder or camera"}, "the same in a run and in --check"


def test_the_summary_is_this_runs_and_says_what_the_db_holds(tmp_path, face_models, clip, capsys):
    for _ in range(2):
        assert run(tmp_path, face_models, clip) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("masked=0 unmasked=2 incorrect=0 not_judged=0 passers_by=0 leaving=0 "
                              "compliance=0.0% fps=")
    assert out[-1].endswith("(this run; counts.db holds masked=0 unmasked=4 incorrect=0 not_judged=0 passers_by=0 "
                            "leaving=0 in all)")


def test_litert_and_onnx_name_a_backend_everywhere_and_logs_name_the_shipped_model(tmp_path, face_models, clip,
                                                                                     mask_images, caplog, capsys):
    import logging

    from edge.cli.eval import main as edge_eval

    caplog.set_level(logging.INFO)
    assert run(tmp_path, face_models, clip, "--backend", "litert", "--model", "fast") == 0
    assert "model fast (litert-int8)" in caplog.text
    data = tmp_path / "crops"
    for label in ("with_mask", "without_mask"):
        (data / label).mkdir(parents=True)
        shutil.copy(sorted((mask_images / label).glob("*.jpg"))[0], data / label)
    for backend in ("litert", "onnx"):
        assert edge_eval(["--data", str(data), "--backend", backend]) == 0
    assert "model default (onnx-int8)" in capsys.readouterr().out


def test_edge_bench_picks_the_detector_edge_run_picks(face_models, tmp_path):
    from edge.cli.bench import main as edge_bench
    from edge.cli.bench import parser

    assert parser().parse_args([]).detector == ["auto"]
    out = tmp_path / "b.json"
    assert edge_bench(["--detector-dir", str(face_models), "--frames", "2", "--warmup", "0", "--json", str(out)]) == 0
    (cell,) = json.loads(out.read_text())["runs"]
    assert cell["detector"] == "maskwatch"
    # edge-run's own fast path for the detector, not every frame
    assert (cell["detect_every"], cell["motion_gate"], cell["motion_regions"]) == (3, True, True)


def test_edge_models_list_names_the_shipped_classifiers(tmp_path, capsys):
    from edge.cli.models import main as edge_models

    assert edge_models(["--dir", str(tmp_path), "list"]) == 0
    out = capsys.readouterr().out
    assert "classifier bundles shipped with the package" in out
    assert "  default  128 px" in out and "  fast     128 px" in out


def test_system_errors_reach_a_person_without_errno(tmp_path, face_models, clip, capsys):
    from edge.cli.models import main as edge_models

    (tmp_path / "a-file").write_text("")
    line = one_error_line(capsys, run(tmp_path, face_models, clip, "--detections", str(tmp_path / "a-file" / "d"),
                                      "--db", str(tmp_path / "never.db")))
    assert f"cannot write the outputs: {tmp_path / 'a-file'} is not an existing folder" in line
    assert not (tmp_path / "never.db").exists()  # said before anything was opened, not after a run
    code = edge_models(["--dir", str(tmp_path / "m"), "fetch", "yunet", "--mirror", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and "connection refused" in err and "[Errno" not in err


def test_demo_clip_help_writes_no_file(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "demo_clip.py"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "usage:" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_the_readme_says_where_the_tools_are():
    readme = (REPO / "README.md").read_text()
    assert ".venv-edge/bin/edge-run" in readme and "source .venv-edge/bin/activate" in readme


def test_a_duration_shorter_than_a_frame_still_processes_one(tmp_path, face_models, clip):
    assert run(tmp_path, face_models, clip, "--duration", "1e-9", "--detections", str(tmp_path / "d.jsonl")) == 0
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 1, "not a silent exit 0 with nothing done"


def test_edge_bench_refuses_a_missing_compare_file_before_it_runs(tmp_path, capsys):
    from edge.cli.bench import main as edge_bench

    code = edge_bench(["--compare", str(tmp_path / "missing.json"), "--frames", "1", "--warmup", "0"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("edge-bench: error: cannot read --compare") and "[1/1]" not in err


def test_an_mqtt_option_without_a_broker_is_refused_not_ignored(tmp_path, face_models, clip, capsys):
    line = one_error_line(capsys, run(tmp_path, face_models, clip, "--mqtt-port", "1884", "--check"))
    assert line == ("edge-run: error: [mqtt] port is set but host is not, and MQTT is off without a host — set "
                    "host (--mqtt-host), or leave the other [mqtt] keys out")
    line = one_error_line(capsys, run(tmp_path, face_models, clip, "--mqtt-qos", "0", "--check"))
    assert "[mqtt] qos is set but host is not" in line
