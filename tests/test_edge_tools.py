"""edge-eval, edge-report and edge-models on real files."""

import csv
import json
import os
import sqlite3
import subprocess
import sys
import time

import cv2
import pytest
from conftest import REPO

from edge.cli.eval import main as edge_eval
from edge.cli.models import main as edge_models
from edge.cli.report import main as edge_report
from edge.counts import CountStore
from edge.door import STILL_FRAMES
from edge.paths import SHIPPED_MODELS


def pictures_folder(data, mask_images, picks: slice):
    """A folder per label with the pictures of ../shared that ``picks`` selects."""
    for label in ("with_mask", "without_mask"):
        (data / label).mkdir(parents=True)
        for path in sorted((mask_images / label).glob("*.jpg"))[picks]:
            (data / label / path.name).write_bytes(path.read_bytes())
    return data


def test_edge_eval_scores_crops_on_the_device_backend(tmp_path, bundle, mask_images):
    data = pictures_folder(tmp_path / "crops", mask_images, slice(5, 45, 8))
    (data / "with_mask" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    assert edge_eval(["--model", str(bundle), "--data", str(data), "--json", str(tmp_path / "e.json"),
                      "--backend", "onnx-int8"]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert {"accuracy", "per_class", "confusion"} <= set(result)
    assert sum(map(sum, result["confusion"])) == 10 and result["skipped"] == 1
    diagonal = sum(result["confusion"][i][i] for i in range(2))
    assert result["accuracy"] == pytest.approx(diagonal / 10)
    assert set(result["per_class"]) == {"with_mask", "without_mask"}


@pytest.mark.parametrize("name, size", [("default", 128), ("fast", 128)])
def test_shipped_models_are_chosen_by_name_and_tell_masks_apart(name, size, tmp_path, mask_images, capsys):
    data = pictures_folder(tmp_path / "crops", mask_images, slice(None, None, 40))
    for backend in ("litert-int8", "onnx-int8"):
        assert edge_eval(["--model", name, "--data", str(data), "--json", str(tmp_path / "e.json"),
                          "--backend", backend]) == 0
        result = json.loads((tmp_path / "e.json").read_text())
        # whole pictures, scenes among them, not face crops: well above chance, not the model card's figure
        assert result["accuracy"] >= 0.9, (backend, result)
    assert f"{size} px" in capsys.readouterr().out


def test_a_model_that_is_neither_a_path_nor_shipped_names_the_shipped_ones(tmp_path, capsys):
    (tmp_path / "crops" / "with_mask").mkdir(parents=True)
    assert edge_eval(["--model", "fastest", "--data", str(tmp_path / "crops")]) == 1
    assert capsys.readouterr().err == ("edge-eval: error: no model at fastest — give an exported bundle's folder, "
                                       "or a shipped model: default, fast\n")


def test_edge_eval_refuses_folders_that_are_not_labels(tmp_path, bundle, capsys):
    (tmp_path / "crops" / "masked").mkdir(parents=True)
    assert edge_eval(["--model", str(bundle), "--data", str(tmp_path / "crops")]) == 1
    assert "folder(s) masked that are not labels of the model" in capsys.readouterr().err


def test_edge_report_groups_by_day_and_hour_and_writes_csv(tmp_path, capsys):
    store = CountStore(tmp_path / "counts.db")
    day = time.mktime((2026, 11, 20, 9, 15, 0, 0, 0, -1))
    for offset, label in ((0, "with_mask"), (60, "with_mask"), (3600, "without_mask"), (86400, "with_mask"),
                          (86460, "mask_incorrect"), (86520, "not_judged")):
        store.add(label, 0.9, 3, ts=day + offset)
    store.close()
    assert edge_report(["--db", str(tmp_path / "counts.db"), "--csv", str(tmp_path / "days.csv")]) == 0
    out = capsys.readouterr().out
    assert "counts per day" in out and "counts per hour" in out
    assert "2026-11-20 10:00" in out
    with open(tmp_path / "days.csv") as f:
        rows = list(csv.reader(f))
    # a mask worn wrong is not compliant: a warning, not a masked person; someone not judged is counted in
    # the total but neither way in compliance
    assert rows == [["day", "with_mask", "without_mask", "mask_incorrect", "not_judged", "total",
                     "compliance_percent", "passer_by", "leaving"],
                    ["2026-11-20", "2", "1", "0", "0", "3", "66.7", "0", "0"],
                    ["2026-11-21", "1", "0", "1", "1", "3", "50.0", "0", "0"]]
    assert edge_report(["--db", str(tmp_path / "counts.db"), "--by", "hour", "--since", "2026-11-21"]) == 0
    assert "2026-11-20" not in capsys.readouterr().out


def test_edge_report_refuses_a_violation_label_nothing_has(tmp_path, capsys):
    """--violation nomask once reported 100% compliance: no count carries that label."""
    store = CountStore(tmp_path / "counts.db")
    store.add("without_mask", 0.9, 3)
    store.close()
    assert edge_report(["--db", str(tmp_path / "counts.db"), "--violation", "nomask"]) == 1
    err = capsys.readouterr().err
    assert err == ("edge-report: error: --violation nomask is no label of these counts — choose from with_mask, "
                   "without_mask, mask_incorrect\n")
    assert edge_report(["--db", str(tmp_path / "counts.db"), "--violation", "without_mask"]) == 0
    assert "0.0" in capsys.readouterr().out  # the one person counted, a violation: 0% compliant


def test_edge_report_on_a_missing_or_foreign_file_is_one_line(tmp_path, capsys):
    assert edge_report(["--db", str(tmp_path / "none.db")]) == 1
    assert "no counts database at" in capsys.readouterr().err
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.commit()
    assert edge_report(["--db", str(tmp_path / "other.db")]) == 1
    assert "other.db is an SQLite file with no counts table" in capsys.readouterr().err
    (tmp_path / "notes.db").write_text("day,count\n")
    assert edge_report(["--db", str(tmp_path / "notes.db")]) == 1
    assert "notes.db is not an edge-run counts database (not SQLite)" in capsys.readouterr().err


def test_edge_report_reads_a_read_only_copy_of_a_wal_database(tmp_path):
    store = CountStore(tmp_path / "counts.db")  # WAL mode, as edge-run writes it
    for label in ("with_mask", "with_mask", "without_mask"):
        store.add(label, 0.9, 5)
    store.close()
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "counts.db").write_bytes((tmp_path / "counts.db").read_bytes())
    (copy / "counts.db").chmod(0o444)
    copy.chmod(0o555)  # a folder the reader may not write: no -shm file can be made there
    try:
        # root, which may write anything, without the capabilities that let it: the folder is read-only to it
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*drop, sys.executable, "-m", "edge.cli.report", "--db", str(copy / "counts.db")],
                                cwd=REPO, capture_output=True, text=True)
    finally:
        copy.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "66.7" in result.stdout and not list(copy.glob("counts.db-*"))


def test_edge_models_copies_checks_and_refuses_a_corrupt_file(tmp_path, face_models, capsys):
    dest = tmp_path / "models"
    assert edge_models(["--dir", str(dest), "fetch", "--from", str(face_models)]) == 0
    assert (dest / "face_detection_yunet_2026may.onnx").is_file()
    assert edge_models(["--dir", str(dest), "list"]) == 0
    listed = capsys.readouterr().out
    assert "missing" not in listed
    assert "detectors shipped with the package" in listed and "  maskwatch bundle: detects at " in listed
    assert "; onnx, float and int8 tflite; trained " in listed
    assert "  yunet     face_detection_yunet_2026may.onnx             ok" in listed
    bad = tmp_path / "bad"
    bad.mkdir()
    for path in face_models.iterdir():
        (bad / path.name).write_bytes(path.read_bytes())
    (bad / "deploy.prototxt").write_text("tampered")
    assert edge_models(["--dir", str(tmp_path / "fresh"), "fetch", "ssd", "--from", str(bad)]) == 1
    assert "deploy.prototxt has sha256" in capsys.readouterr().err
    assert not (tmp_path / "fresh" / "deploy.prototxt").exists()
    assert not list((tmp_path / "fresh").glob("*.part"))


def test_edge_models_downloads_from_a_mirror(tmp_path, face_models, http_server):
    url = http_server(face_models)
    assert edge_models(["--dir", str(tmp_path / "m"), "fetch", "yunet", "--mirror", url]) == 0
    path = tmp_path / "m" / "face_detection_yunet_2026may.onnx"
    assert path.read_bytes() == (face_models / path.name).read_bytes()
    assert cv2.FaceDetectorYN.create(str(path), "", (320, 320)) is not None


def test_edge_bench_reports_every_stage_and_flags_regressions(tmp_path, bundle, face_models, capsys):
    from edge.cli.bench import main as edge_bench

    out = tmp_path / "bench.json"
    assert edge_bench(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                       "--backend", "litert-int8", "onnx-int8", "--faces", "0", "2", "--frames", "5",
                       "--warmup", "2", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"machine", "peak_rss_mb", "runs"} <= set(result) and result["peak_rss_mb"] > 0
    assert len(result["runs"]) == 4
    two = next(r for r in result["runs"] if r["faces"] == 2 and r["backend"] == "onnx-int8")
    assert two["faces_found_per_frame"] == 2  # the synthetic faces are real faces to the detector
    assert two["detector_runtime"] == "litert"  # stock YuNet fetched again: its packaged float twin
    for stage in ("capture", "detect", "crop", "classify", "track", "total"):
        assert set(two["stages"][stage]) == {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms"}
    assert two["stages"]["total"]["p50_ms"] >= two["stages"]["detect"]["p50_ms"]
    assert set(result["machine"]["model_sha256"]) == {p.name for p in bundle.iterdir() if p.suffix in (".tflite",
                                                                                                       ".onnx")}
    faster = json.loads(out.read_text())
    for run in faster["runs"]:
        run["stages"]["total"]["mean_ms"] /= 10  # an old run ten times faster: now a regression
    (tmp_path / "old.json").write_text(json.dumps(faster))
    capsys.readouterr()
    (tmp_path / "unrelated.json").write_text(json.dumps({"accuracy": 0.99}))
    (tmp_path / "broken.json").write_text('{"runs": [')
    for old, message in [("old.json", "shares no setting"), ("unrelated.json", "is not an edge-bench result"),
                         ("broken.json", "is not JSON"), ("missing.json", "cannot read --compare")]:
        assert edge_bench(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                           "--faces", "1", "--frames", "3", "--warmup", "1", "--compare",
                           str(tmp_path / old)]) == 1, old  # nothing comparable is no "no regression"
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("edge-bench: error: ") and message in err[-1], err
    assert edge_bench(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                       "--backend", "onnx-int8", "--faces", "2", "--frames", "3", "--warmup", "1",
                       "--compare", str(tmp_path / "old.json")]) == 1
    # the detector on its float twin, the preset: k=3, gate, regions
    assert "regression: yunet/litert/onnx-int8/1/2/3/True/True" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--detect-every", "0"), ("--frames", "0"), ("--threads", "0"),
                                         ("--warmup", "-1")])
def test_edge_bench_refuses_counts_it_cannot_run_in_one_line(flag, value, capsys):
    from edge.cli.bench import main as edge_bench

    with pytest.raises(SystemExit) as exited:
        edge_bench([flag, value])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"edge-bench: error: argument {flag}: '{value}' is not a whole number ")


def test_edge_bench_measures_the_fast_path(tmp_path, bundle, face_models):
    from edge.cli.bench import main as edge_bench

    out = tmp_path / "bench.json"
    assert edge_bench(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                       "--faces", "0", "1", "--detect-every", "1", "3", "--motion-gate", "--frames", "30",
                       # the face stands in view: counted once it kept its size STILL_FRAMES frames, and looked for
                       # on every frame until then
                       "--warmup", str(STILL_FRAMES + 2), "--json", str(out)]) == 0
    runs = {(r["faces"], r["detect_every"]): r for r in json.loads(out.read_text())["runs"]}
    assert runs[1, 1]["detected_share"] == 1 and runs[1, 3]["detected_share"] == pytest.approx(1 / 3, abs=0.04)
    assert runs[0, 1]["detected_share"] == 0  # an empty, unchanging frame: the motion gate stays shut
    assert runs[1, 3]["faces_found_per_frame"] == 1  # skipped frames still report the tracked face
    assert runs[1, 1]["motion_gate"] is True and runs[1, 1]["settled"] == 0.9


def test_edge_bench_reports_the_share_of_the_frame_motion_regions_search(tmp_path, bundle, face_models):
    from edge.cli.bench import main as edge_bench

    out = tmp_path / "bench.json"
    assert edge_bench(["--model", str(bundle), "--detector", "yunet", "--detector-dir", str(face_models),
                       "--faces", "1", "--motion-regions", "--detect-every", "1", "--frames", "30", "--warmup", "3",
                       "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["motion_regions"] is True and run["detected_share"] == 1
    # 3 of the 30 frames search the whole frame (every 10th detection), the rest around one face
    assert 0.1 < run["searched_share"] < 0.5
    assert run["faces_found_per_frame"] == 1


@pytest.fixture
def opencv_threads():
    """OpenCV's thread count is the process's: put it back for the tests that follow."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    yield
    cv2.setNumThreads(before)


def test_edge_bench_threads_bound_the_detector_too(tmp_path, face_models, opencv_threads):
    from edge.cli.bench import main as edge_bench

    out = tmp_path / "bench.json"
    assert edge_bench(["--model", "fast", "--detector", "yunet", "--detector-dir", str(face_models),
                       "--threads", "1", "--frames", "2", "--warmup", "1", "--json", str(out)]) == 0
    assert cv2.getNumThreads() == 1  # "one thread" is the whole pipeline's, not only the classifier's
    result = json.loads(out.read_text())
    assert result["runs"][0]["threads"] == 1
    assert set(result["machine"]["model_sha256"]) == {p.name for p in (SHIPPED_MODELS / "fast").iterdir()
                                                      if p.suffix in (".tflite", ".onnx")}


def test_edge_run_detector_threads_come_from_config(bundle, face_models, opencv_threads):
    from edge import config as configs
    from edge.runtime import load_models

    load_models(configs.from_dict({"model": {"path": str(bundle)},
                                   "detector": {"name": "haar", "threads": 2}}))
    assert cv2.getNumThreads() == 2
    load_models(configs.from_dict({"model": {"path": str(bundle)}, "detector": {"name": "haar"}}))
    assert cv2.getNumThreads() == 2  # unset: OpenCV's own setting stays
