"""The benchmark scripts run end to end on small inputs (their figures come from `make`)."""

import json
import subprocess
import sys

import pytest
from conftest import REPO


def script(*args, timeout=600):
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_soak_reports_memory_gaps_and_counts(tmp_path, walk_video, face_models):
    clip = tmp_path / "door.avi"
    walk_video(clip, 60, step=8)
    out = tmp_path / "soak.json"
    result = script("tools/soak.py", clip, "--frames", 150, "--people-per-loop", 1, "--detector-dir", face_models,
                    "--json", out)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["frames"] == 150 and figures["loops"] == 2.5
    assert figures["people_counted"] == 3 and figures["people_shown"] == 2  # the third walk was half done
    assert 0 < figures["rss_start_mb"] <= figures["rss_peak_mb"] and figures["longest_gap_ms"] > 0


def test_bench_compare_on_a_fresh_clone_names_the_command_that_makes_its_run(tmp_path, face_models):
    result = script("tools/bench_compare.py", "--run", tmp_path / "m128", "--detector-dir", face_models)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no trained model at" in result.stderr and "make train" in result.stderr


@pytest.mark.tf
def test_bench_compare_writes_the_ratios(tmp_path, run_dir, face_models, walk_video):
    pytest.importorskip("tensorflow")
    clip = tmp_path / "door.avi"
    walk_video(clip, 40, step=10)
    out = tmp_path / "bench-compare.json"
    result = script("tools/bench_compare.py", "--run", run_dir, "--detector-dir", face_models, "--frames", 3,
                    "--clip", clip, "--loops", 1, "--out", out)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    for key in ("reference_fps", "default_fps", "fastest_fps", "ratio_default", "ratio_fastest"):
        assert figures[key] > 0, key
    assert figures["ratio_fastest"] == pytest.approx(figures["fastest_fps"] / figures["reference_fps"], rel=0.01)
    assert figures["counts"]["default"] == figures["counts"]["fastest"]
