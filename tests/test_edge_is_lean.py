"""The device package must import with TensorFlow, Keras, train and export all unavailable."""

import subprocess
import sys

from conftest import REPO

BLOCKER = """
import importlib.abc, pkgutil, sys
FORBIDDEN = ("tensorflow", "keras", "tf2onnx", "train", "export")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ImportError(f"edge must not import {name}")
sys.meta_path.insert(0, Block())
import edge
names = [m.name for m in pkgutil.walk_packages(edge.__path__, "edge.")]
for name in names:
    __import__(name)
print(len(names))
"""


def test_every_edge_module_imports_without_tensorflow():
    result = subprocess.run([sys.executable, "-c", BLOCKER], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 8  # the walk really found the modules


def test_the_device_package_installs_edge_alone(tmp_path):
    """What `pip install` puts on a device: one import name of ours, no training or export code."""
    import zipfile

    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(REPO)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("maskwatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"edge"}
    assert "edge/models/default/manifest.json" in names and "edge/view/page.html" in names
    # the detectors a device detects with offline, with their licences
    for shipped in ("yunet/face_detection_yunet_2026may.onnx", "yunet/LICENSE", "maskwatch/detector.onnx",
                    "maskwatch/manifest.json", "maskwatch/LICENSE"):
        assert f"edge/models/detectors/{shipped}" in names
