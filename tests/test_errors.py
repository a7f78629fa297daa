"""One error base: a deliberate error is one line and exit 1, Ctrl-C one line and 130, a bug its traceback and
70; a fallback taken is a typed warning, logged as one line."""

import argparse
import logging
import subprocess
import sys
import warnings

import pytest
from conftest import REPO

from edge.console import BUG, INTERRUPTED, run_main
from edge.errors import ConfigError, DetectorFallback, EdgeError, FallbackWarning, MaskwatchWarning


def args(debug=False):
    return argparse.Namespace(debug=debug)


def raising(exc):
    def body(_):
        raise exc

    return body


def test_a_deliberate_error_is_one_line_and_exit_1(capsys):
    assert run_main("prog", raising(ConfigError("[tracker] min_hits is 0; it must be at least 1")), args()) == 1
    assert capsys.readouterr().err == "prog: error: [tracker] min_hits is 0; it must be at least 1\n"
    assert run_main("prog", raising(FileNotFoundError(2, "No such file or directory", "x.db")), args()) == 1
    assert capsys.readouterr().err == "prog: error: x.db: no such file or directory\n"


def test_a_bug_is_not_a_user_error_it_shows_its_traceback_and_exits_70(capsys):
    """A plain ValueError (or any other exception) is a programming error, not something the user did."""
    assert run_main("prog", raising(ValueError("operands could not be broadcast")), args()) == BUG == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ValueError: operands could not be broadcast" in err
    assert err.rstrip().endswith("please report it with the traceback above")


def test_ctrl_c_is_one_line_and_exit_130(capsys):
    assert run_main("prog", raising(KeyboardInterrupt()), args()) == INTERRUPTED == 130
    assert capsys.readouterr().err == "prog: interrupted\n"


def test_debug_shows_the_traceback_of_a_deliberate_error():
    with pytest.raises(ConfigError):
        run_main("prog", raising(ConfigError("x")), args(debug=True))


def test_training_and_export_errors_share_the_base_and_a_builtin():
    from export.__main__ import ExportError
    from export.seal import SealError
    from train.dataset import DatasetError
    from train.rundir import RunError

    for cls in (ExportError, SealError, DatasetError, RunError, ConfigError):
        assert issubclass(cls, EdgeError) and issubclass(cls, ValueError), cls


def test_a_fallback_is_a_typed_warning_logged_as_one_line(caplog):
    assert issubclass(DetectorFallback, FallbackWarning) and issubclass(FallbackWarning, MaskwatchWarning)

    def body(_):
        warnings.warn("no yunet detector files in /x: using Haar", DetectorFallback, stacklevel=1)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        caplog.set_level(logging.WARNING)
        assert run_main("prog", body, args()) == 0
    assert [r.getMessage() for r in caplog.records] == ["no yunet detector files in /x: using Haar"]


def test_edge_run_detects_with_the_packaged_detector_with_no_files_fetched(tmp_path, walk_video):
    clip = tmp_path / "door.avi"
    walk_video(clip, 20, step=10)
    empty = tmp_path / "no-detectors"
    empty.mkdir()
    result = subprocess.run([sys.executable, "-m", "edge.cli.run", "--camera", str(clip), "--detector-dir",
                             str(empty), "--db", str(tmp_path / "c.db"), "--gpio", "none"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # no fallback said (this machine's clock may be unsynchronised: that warning is the clock's, not the detector's)
    warned = [line for line in result.stderr.splitlines() if "WARNING" in line and "system clock" not in line]
    assert "detector maskwatch" in result.stderr and warned == []


def test_falling_back_from_the_packaged_detector_says_so_in_one_log_line(tmp_path, walk_video):
    clip = tmp_path / "door.avi"
    walk_video(clip, 20, step=10)
    empty = tmp_path / "no-detectors"
    empty.mkdir()
    # the package as a damaged install leaves it: its own detector's bundle gone
    lose_bundle = ("import sys; from edge.detectors import bundle, maskwatch; "
                   "bundle.PACKAGED = maskwatch.MaskwatchDetector.packaged = bundle.PACKAGED / 'gone'; "
                   "from edge.cli.run import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", lose_bundle, "--camera", str(clip), "--detector-dir", str(empty),
                             "--db", str(tmp_path / "c.db"), "--gpio", "none"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    fallback = [line for line in result.stderr.splitlines() if "no maskwatch detector in" in line]
    assert len(fallback) == 1 and fallback[0].startswith("edge-run: WARNING ")
    assert "YuNet (OpenCV model zoo)" in fallback[0] and "reinstall the package" in fallback[0]
    assert "detector yunet" in result.stderr
    assert "DetectorFallback" not in result.stderr and "warnings.warn" not in result.stderr


def test_other_libraries_say_nothing_before_our_one_line(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # nothing listens there once the socket is closed
    cases = {f"rtsp://127.0.0.1:{closed}/door": "no camera at rtsp://", "/dev/video77": "no camera at /dev/video77",
             "gpio": "GPIO pin 17 cannot be used as an output"}
    for camera, said in cases.items():
        extra = ["--camera", str(REPO / "edge" / "assets" / "face.jpg"), "--red-led", "17"] if camera == "gpio" \
            else ["--camera", camera, "--gpio", "none"]
        result = subprocess.run([sys.executable, "-m", "edge.cli.run", *extra, "--db", str(tmp_path / "c.db")],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        # LiteRT's own note that it made its CPU delegate comes when the model loads, before any camera
        lines = [line for line in result.stderr.splitlines() if "XNNPACK delegate" not in line]
        assert result.returncode == 1 and len(lines) == 1 and said in lines[0], result.stderr


@pytest.mark.parametrize("script", ["edge-run", "edge-report"])
def test_ctrl_c_while_the_program_loads_is_one_line_not_the_imports_traceback(tmp_path, script):
    """The installed script, interrupted while it imports NumPy/OpenCV (seen in the process's mapped files)."""
    import os
    import signal
    import time
    from pathlib import Path

    binary = Path(sys.executable).parent / script
    process = subprocess.Popen([binary, "--db", tmp_path / "counts.db"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               # a shell's child has Python's own Ctrl-C handling; a test runner's may not
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    maps = Path(f"/proc/{process.pid}/maps")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "numpy" not in (maps.read_text() if maps.exists() else ""):
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (INTERRUPTED, f"{script}: interrupted\n")
