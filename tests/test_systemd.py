"""The service as installed: `make deploy` over a stand-in ssh into a folder, the unit checked by
systemd's own analyzer, model bundles updated and rolled back, uninstall keeping the counts."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge import manifest as manifests
from edge.paths import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "edge-run.service"
FAKE_SSH = Path(__file__).parent / "fake_ssh.sh"


def run(*command, **kwargs):
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return manifests.pack(DEFAULT_MODEL, tmp_path_factory.mktemp("bundle") / "doorway-v1.tar.gz")


@pytest.fixture(scope="module")
def device(tmp_path_factory, bundle, face_models) -> Path:
    """A device root filled by `make deploy`, as a Pi would be: rsync + ssh + install.sh."""
    if shutil.which("rsync") is None:
        pytest.fail("rsync is not installed (apt install rsync)")
    base = tmp_path_factory.mktemp("device")
    root = base / "root"
    # The OS image's own units, so systemd-analyze can resolve the unit's dependencies in root.
    shutil.copytree("/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    result = run("make", "-s", "deploy", "HOST=doorway", f"SSH={FAKE_SSH}", "SUDO=", f"BUNDLE={bundle}",
                 "EXPORT=no-such-export", f"REMOTE_DIR={base / 'src'}",
                 f"REMOTE_ARGS=--root {root} --no-start --detectors {face_models}", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installed into" in result.stdout
    return root


def test_deploy_without_passwordless_sudo_says_so_before_copying_anything(tmp_path):
    # "false" stands in for a sudo -n that wants a password
    result = run("make", "-s", "deploy", "HOST=doorway", f"SSH={FAKE_SSH}", "SUDO=false", "EXPORT=no-such-export",
                 f"REMOTE_DIR={tmp_path / 'src'}", cwd=REPO)
    assert result.returncode != 0
    assert "doorway wants a sudo password — give the ssh user passwordless sudo there" in result.stderr
    assert not (tmp_path / "src").exists()


def test_deploy_installs_user_venv_config_model_and_unit(device, bundle):
    passwd = (device / "etc/passwd").read_text()
    assert re.search(r"^edge-run:x:\d+:\d+:.*:/var/lib/edge-run:/usr/sbin/nologin$", passwd, re.M)
    groups = {line.split(":")[0]: line.split(":")[3] for line in (device / "etc/group").read_text().splitlines()}
    assert "edge-run" in groups["video"].split(",") and "edge-run" in groups["gpio"].split(",")
    assert (device / "etc/systemd/system/edge-run.service").read_text() == UNIT.read_text()
    assert (device / "opt/edge-run/models/current.tar.gz").resolve().read_bytes() == bundle.read_bytes()
    assert (device / "opt/edge-run/detectors/face_detection_yunet_2026may.onnx").is_file()
    state = device / "var/lib/edge-run"
    uid = int(re.search(r"^edge-run:x:(\d+)", passwd, re.M).group(1))
    assert state.stat().st_uid == uid and state.stat().st_mode & 0o777 == 0o750
    config = (device / "etc/edge-run/edge-run.toml").read_text()
    assert 'path = "/opt/edge-run/models/current.tar.gz"' in config
    assert 'db = "/var/lib/edge-run/counts.db"' in config
    assert 'model_dir = "/opt/edge-run/detectors"' in config
    # apt's picamera2 must stay visible inside the venv.
    assert "include-system-site-packages = true" in (device / "opt/edge-run/venv/pyvenv.cfg").read_text()


def test_installed_runtime_checks_with_the_installed_config(device, walk_video, tmp_path):
    clip = tmp_path / "door.avi"
    walk_video(clip, 20)
    opt = device / "opt/edge-run"
    # The config names target paths (/opt/...); from outside the root they are given with it.
    result = run(opt / "venv/bin/edge-run", "--config", device / "etc/edge-run/edge-run.toml", "--check",
                 "--camera", clip, "--model", opt / "models/current.tar.gz", "--detector-dir", opt / "detectors",
                 "--db", tmp_path / "counts.db")
    assert result.returncode == 0, result.stderr
    assert "check ok" in result.stdout and "detector maskwatch" in result.stdout


def test_installed_unit_passes_systemd_analyze_verify(device):
    result = run("systemd-analyze", "verify", f"--root={device}", "edge-run.service")
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_verify_notices_a_missing_executable(device):
    """The verify test above can fail: without the venv's edge-run the same call complains."""
    binary = device / "opt/edge-run/venv/bin/edge-run"
    binary.rename(binary.with_suffix(".away"))
    try:
        result = run("systemd-analyze", "verify", f"--root={device}", "edge-run.service")
    finally:
        binary.with_suffix(".away").rename(binary)
    assert result.returncode != 0 and "is not executable" in result.stderr


def test_security_exposure_is_at_most_3(device):
    result = run("systemd-analyze", "security", "--offline=true", f"--root={device}", "edge-run.service")
    exposure = float(re.search(r"Overall exposure level for edge-run.service: ([\d.]+)", result.stdout).group(1))
    print(f"systemd-analyze security --offline=true: exposure {exposure}")
    assert exposure <= 3.0


def test_a_refused_bundle_never_becomes_current(device, bundle, tmp_path):
    tampered = tmp_path / "tampered.tar.gz"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    result = run("bash", REPO / "systemd/install.sh", "--root", device, "--no-start", "--bundle", tampered,
                 "--detectors", device / "opt/edge-run/detectors")
    assert result.returncode != 0
    # one flipped byte of the gzip stream: which check catches it depends on where it lands
    assert any(reason in result.stderr for reason in ("does not match", "not a readable bundle", "has no SHA256SUMS"))
    assert "refused (" in result.stderr and "current model is unchanged" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert os.readlink(device / "opt/edge-run/models/current.tar.gz") == bundle.name


def test_update_then_rollback_swaps_the_model_bundles(device, bundle, tmp_path):
    update = tmp_path / "doorway-v2.tar.gz"
    shutil.copy(bundle, update)
    models = device / "opt/edge-run/models"
    install = ["bash", REPO / "systemd/install.sh", "--root", device, "--no-start"]
    result = run(*install, "--bundle", update, "--detectors", device / "opt/edge-run/detectors")
    assert result.returncode == 0, result.stderr
    assert "keeping /etc/edge-run/edge-run.toml" in result.stdout
    assert (os.readlink(models / "current.tar.gz"), os.readlink(models / "previous.tar.gz")) == \
        ("doorway-v2.tar.gz", "doorway-v1.tar.gz")
    assert run(*install, "--rollback").returncode == 0
    assert (os.readlink(models / "current.tar.gz"), os.readlink(models / "previous.tar.gz")) == \
        ("doorway-v1.tar.gz", "doorway-v2.tar.gz")


def test_install_says_when_a_secret_file_is_readable_by_others(device):
    config = device / "etc/edge-run/edge-run.toml"
    original = config.read_text()
    uid = int(re.search(r"^edge-run:x:(\d+)", (device / "etc/passwd").read_text(), re.M).group(1))
    loose, tight = device / "etc/edge-run/mqtt-password", device / "etc/edge-run/view-token"
    loose.write_text("secret\n")
    loose.chmod(0o644)
    tight.write_text("token-token\n")
    os.chown(tight, uid, -1)
    tight.chmod(0o600)
    config.write_text(original.replace("# password_file =", 'password_file = "/etc/edge-run/mqtt-password"\n#')
                      .replace("# token_file =", 'token_file = "/etc/edge-run/view-token"\n#'))
    try:
        result = run("bash", REPO / "systemd/install.sh", "--root", device, "--no-start")
    finally:
        config.write_text(original)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if "must be readable by the edge-run user only" in line]
    assert len(warnings) == 1 and "/etc/edge-run/mqtt-password" in warnings[0], result.stdout


def test_uninstall_keeps_the_counts_and_purge_removes_them(device):
    counts = device / "var/lib/edge-run/counts.db"
    counts.write_bytes(b"counts")
    install = ["bash", REPO / "systemd/install.sh", "--root", device, "--uninstall"]
    assert run(*install).returncode == 0
    assert not (device / "opt/edge-run").exists()
    assert not (device / "etc/systemd/system/edge-run.service").exists()
    assert counts.read_bytes() == b"counts" and (device / "etc/edge-run/edge-run.toml").is_file()
    assert run(*install, "--purge").returncode == 0
    assert not counts.exists() and not (device / "etc/edge-run").exists()


PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
MDWE = f"""
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0):
    sys.exit(f"prctl: errno {{ctypes.get_errno()}}")
os.execv(sys.argv[1], sys.argv[1:])
"""


def mdwe_supported() -> bool:
    """PR_SET_MDWE (Linux 6.3+) is what the unit's MemoryDenyWriteExecute=yes amounts to."""
    probe = run(sys.executable, "-c", f"import ctypes, sys; sys.exit(ctypes.CDLL(None).prctl({PR_SET_MDWE}, "
                f"{PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0)")
    return probe.returncode == 0


@pytest.mark.parametrize("backend, detector, runtime", [
    ("litert-int8", "yunet", "auto"), ("onnx-int8", "yunet", "auto"), ("onnx-fp32", "yunet", "auto"),
    ("litert-int8", "maskwatch", "litert-int8")])
def test_runtime_needs_no_writable_executable_memory(backend, detector, runtime, walk_video, face_models, tmp_path):
    """The unit sets MemoryDenyWriteExecute=yes: every backend and every detector runtime must run under it."""
    if not mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    clip = tmp_path / "door.avi"
    walk_video(clip, 30)
    edge_run = Path(sys.executable).with_name("edge-run")
    result = run(sys.executable, "-c", MDWE, edge_run, "--camera", clip, "--backend", backend,
                 "--detector", detector, "--detect-runtime", runtime, "--detector-dir", face_models,
                 "--db", tmp_path / "c.db", "--gpio", "none")
    assert result.returncode == 0, result.stderr
    assert "unmasked=1" in result.stdout


def test_the_mdwe_wrapper_does_refuse_writable_executable_memory():
    if not mdwe_supported():
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    refused = run(sys.executable, "-c", MDWE, sys.executable, "-c",
                  "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)")
    assert refused.returncode != 0 and "PermissionError" in refused.stderr
