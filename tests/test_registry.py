"""A backend is one file: a detector dropped into edge/detectors/ is a choice of every command, has its own
fast-path preset and face check, and counts people through edge-run, with no other file touched."""

import json
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
from conftest import REPO

from edge import detectors
from edge.alerts import ALERTS
from edge.cameras import CAMERAS
from edge.classifiers import backends
from edge.classifiers.base import CLASSIFIERS
from edge.config import AlertsConfig, DetectorConfig, ModelConfig
from edge.errors import ConfigError

# A detector file as a newcomer would write it: Haar's search under a new name, with its own preset and score.
NEW_DETECTOR = '''
from edge.detectors.base import DETECTORS
from edge.detectors.haar import HaarDetector


@DETECTORS.register("eyes2")
class EyesAgain(HaarDetector):
    name = "eyes2"
    summary = "Haar eye pairs again, for a test"
    preset = {"detect_every": 2, "motion_gate": True, "motion_regions": False}
    face_score = 0.0
'''

PROBE = '''
import json, sys
import edge.detectors
edge.detectors.__path__.append(sys.argv[1])  # the new file's folder: as if it were in the package
from edge import config as configs, detectors
from edge.cli import bench, run
from train import __main__ as train_cli
from train import walkthrough

def choices(parser, flag):
    return next(a.choices for a in parser._actions if flag in a.option_strings)

print(json.dumps({
    "config": list(configs.DetectorConfig.__dataclass_fields__["name"].metadata["choices"]),
    "edge_run_help": run.parser().format_help(),
    "edge_bench": list(choices(bench.parser(), "--detector")),
    "preset": configs.SpeedConfig().settings("eyes2"),
    "made": detectors.create_detector("eyes2").name,
}))
'''


def test_a_new_detector_is_one_file(tmp_path, face):
    (tmp_path / "eyes2.py").write_text(NEW_DETECTOR)
    probe = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    seen = json.loads(probe.stdout)
    assert "eyes2" in seen["config"] and "eyes2" in seen["edge_bench"]
    assert "eyes2: Haar eye pairs again, for a test" in " ".join(seen["edge_run_help"].split())
    assert {k: seen["preset"][k] for k in ("detect_every", "motion_gate")} == {"detect_every": 2, "motion_gate": True}
    assert seen["made"] == "eyes2"
    # and edge-run counts with it, given by name on the command line
    clip = tmp_path / "door.avi"  # someone walking up to the door, their face growing from 100 to 260 px
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    for side in np.linspace(100, 260, 40).astype(int):
        frame = np.full((480, 640, 3), 80, np.uint8)
        frame[200 - side // 2:200 - side // 2 + side, 320 - side // 2:320 - side // 2 + side] = cv2.resize(face,
                                                                                                        (side, side))
        writer.write(frame)
    writer.release()
    run = subprocess.run([sys.executable, "-c", textwrap.dedent('''
        import sys
        import edge.detectors
        edge.detectors.__path__.append(sys.argv[1])
        from edge.cli.run import main
        sys.exit(main(sys.argv[2:]))'''), str(tmp_path), "--camera", str(clip), "--detector", "eyes2",
        "--db", str(tmp_path / "c.db"), "--gpio", "none"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "detector eyes2" in run.stderr and run.stdout.startswith("masked=0 unmasked=1 ")


def test_every_family_lists_its_backends_from_its_files():
    assert set(detectors.names()) >= {"haar", "maskwatch", "ssd", "yunet"}
    assert DetectorConfig.__dataclass_fields__["name"].metadata["choices"] == ("auto", *detectors.names())
    assert CLASSIFIERS.names() == ("litert", "onnx")  # LiteRT first: the default where it is installed
    assert backends() == ("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32")
    assert ModelConfig.__dataclass_fields__["backend"].metadata["choices"] == (*backends(), "litert", "onnx")
    assert ALERTS.names() == ("gpiozero", "jetson", "none")
    assert AlertsConfig.__dataclass_fields__["backend"].metadata["choices"] == ALERTS.names()
    assert CAMERAS.names() == ("csi", "usb", "stream", "file")  # the order a source is tried in


def test_an_unknown_backend_is_a_one_line_error_with_the_choices():
    with pytest.raises(ConfigError, match=r"^unknown detector 'nope'; choose one of haar, maskwatch, ssd, yunet"):
        detectors.create_detector("nope")
