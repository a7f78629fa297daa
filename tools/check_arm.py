"""``make check-arm``: the device runtime on a Pi's CPU and Python, under emulation, against this machine.

On x86_64 with Debian's ``qemu-user-static`` (binfmt) and ``debootstrap``, it builds and caches an arm64
root of Debian 13 (Python 3.13) and of Debian 12 (Python 3.11), installs ``requirements-edge.txt`` (and
``requirements-onnx.txt``) from aarch64 wheels and the package in a venv there, then runs the same probe
on both sides on the same pixels (inputs are decoded here once and written as PNG, so no codec differs):

- the shipped models' probabilities on the crops of ``../shared/datasets/masks-oos`` (262), per backend:
  the largest difference and the share of labels that agree;
- edge-run's pipeline (its defaults) on the demo clip and on a walk-up clip of a real held-out photo, per
  detector (Haar, YuNet) and backend: people counted, and every box of every frame.

Each root also has apt's numpy and a C extension apt built against it (``python3-bottleneck``, as Raspberry Pi
OS's ``simplejpeg`` is for picamera2), and the venv is made as ``systemd/install.sh`` makes the service's: with
the system packages visible and apt's numpy kept (Debian 12's is 1.24, so pip takes an OpenCV for numpy 1.x);
the row "apt numpy + C extension" says the venv imports that extension next to edge-run's packages.

It prints one table and exits non-zero on any difference beyond the tolerances below. qemu runs the
root's code about 65 times slower than the host: this proves results, never speed.

Usage::

    python tools/check_arm.py [--distro trixie bookworm] [--cache ~/.cache/check-arm]

Debian 12's qemu (7.2, the host's here) needs two things (issue 20): LiteRT's and onnxruntime's CPU
detection read ``/proc/cpuinfo``, so the root gets a Cortex-A76's (a Pi 5's) at that path; and qemu's
default CPU model ``max`` gives silently wrong int8 results, so ``QEMU_CPU`` is pinned to the Pi's.
"""

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIRROR = "http://deb.debian.org/debian"
PYTHONS = {"trixie": "3.13", "bookworm": "3.11"}
QEMU_CPU = "cortex-a76"
ROOT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# A Pi 5's Cortex-A76 as /proc/cpuinfo shows it (implementer 0x41 = Arm, part 0xd0b = A76).
CPUINFO = "".join(f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 "
                  "atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\n"
                  "CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n" for n in range(4))
BACKENDS = ("litert-int8", "onnx-int8", "onnx-fp32")  # the shipped bundle's artifacts
# Tolerances, set from the first measurement here (docs/benchmarks.md, "On ARM"). Float kernels on other
# SIMD differ in rounding only (5e-6). The int8 kernels of LiteRT (XNNPACK) and onnxruntime on aarch64 are
# other code than on x86 and requantize differently: on the 262 crops LiteRT's differed by up to 0.004 on
# Debian 12 (cp311 wheel) and 0.22 on Debian 13 (cp313 wheel, one top class flipped: a crop at 0.25 / 0.22
# / 0.54), onnxruntime's by up to 0.18 (two flipped). Cortex-A72 and A76 gave the same numbers.
MAX_DIFFERENCE = {"litert-int8": 0.25, "onnx-int8": 0.25, "onnx-fp32": 1e-4}
MIN_AGREEMENT = {"litert-int8": 0.99, "onnx-int8": 0.99, "onnx-fp32": 1.0}
# A box may move this much. Haar's boxes moved 2 px on ARM (OpenCV's NEON image pyramid rounds its
# scales differently) with the same people counted; YuNet's did not move at all. The int8 twin's kernels are other
# code on aarch64 (as the classifier's): it may move a box by as much as Haar's.
BOX_PX = {"haar": 2.0, "yunet": 1.0, "maskwatch": 1.0, "maskwatch litert-int8": 2.0}
# The test modules that need no TensorFlow (the evaluator's test needs train/), run under pytest in the root.
ARM_TESTS = ("tests/test_tracker.py tests/test_crops.py tests/test_metrics.py tests/test_face_check.py "
             "tests/test_config.py tests/test_images.py tests/test_notify.py tests/test_check_arm.py "
             "-k 'not scene_evaluator'")
PYTEST = "pytest==9.0.3 hypothesis==6.170.17"  # requirements-train.txt's
# (detector, classifier backend, detector runtime): the bundle's int8 twin and its float one both
PIPELINES = (("haar", "litert-int8", "auto"), ("yunet", "litert-int8", "auto"), ("yunet", "onnx-fp32", "auto"),
             ("maskwatch", "litert-int8", "litert"), ("maskwatch", "litert-int8", "litert-int8"))
# apt's numpy and a C extension built against its ABI (bottleneck calls numpy's C API), as picamera2's simplejpeg.
APT_NUMPY = ("python3-numpy", "python3-bottleneck")
# In the venv: apt's extension, edge-run's own packages, and which numpy they share.
ABI_PROBE = ("import bottleneck, cv2, numpy, ai_edge_litert.interpreter, edge.cli.run; "
             "assert bottleneck.nansum(numpy.array([1.0, numpy.nan, 2.0])) == 3.0; "
             "print(f'numpy {numpy.__version__} from {numpy.__file__.split(\"/numpy/\")[0]}, '"
             "f'bottleneck {bottleneck.__version__}, opencv {cv2.__version__}')")


def probe(inputs: Path, out: Path, backends: list[str]) -> None:
    """On either side: probabilities on the crops, and counts and boxes on each clip. Only edge's imports."""
    import cv2

    from edge import config as configs
    from edge.classifiers import load_classifier
    from edge.detectors import create_detector
    from edge.errors import EdgeError
    from edge.paths import DEFAULT_MODEL
    from edge.pipeline import Pipeline
    from edge.scoring import load_crops

    cv2.setNumThreads(1)
    result = {"crops": {}, "clips": {}}
    for backend in backends:
        try:
            classifier = load_classifier(DEFAULT_MODEL, backend)
        except EdgeError as exc:  # a backend missing on one side is a row of the table, not a traceback
            result["crops"][backend] = {"error": str(exc).splitlines()[0]}
            continue
        crops = load_crops(inputs / "crops", classifier.manifest.labels, classifier.size)
        result["crops"][backend] = {"probabilities": classifier.classify(crops.pixels).round(7).tolist()}
    for detector_name, backend, runtime in PIPELINES:
        config = configs.from_dict({"detector": {"name": detector_name, "threads": 1}})
        detector = create_detector(detector_name, inputs / "face", runtime=runtime)
        classifier = load_classifier(DEFAULT_MODEL, backend)
        for clip in sorted(p for p in (inputs / "clips").iterdir() if p.is_dir()):
            pipeline = Pipeline(detector, classifier, **dataclasses.asdict(config.tracker),
                                **config.speed.settings(detector.name))
            boxes, counted = [], Counter()
            for frame in sorted(clip.glob("*.png")):
                seen = pipeline.process(cv2.imread(str(frame)))
                boxes.append([list(face.box) for face in seen.faces])
                counted.update(person.label for person in seen.counted)
            counted.update(person.label for person in pipeline.finish())
            key = f"{clip.name} {detector_name} {backend} (detector on {detector.runtime})"
            result["clips"][key] = {"counts": dict(counted), "boxes": boxes}
    out.write_text(json.dumps(result))
    print(f"probe: wrote {out}", file=sys.stderr)


def run(command: list[str], **kwargs) -> None:
    print("+", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, **kwargs)


def host_tools() -> None:
    """binfmt for aarch64 (mounted and enabled if need be), or one line saying what to install."""
    missing = [tool for tool in ("qemu-aarch64-static", "debootstrap", "update-binfmts") if not shutil.which(tool)]
    if missing:
        sys.exit(f"check-arm: error: {', '.join(missing)} not found — apt-get install qemu-user-static debootstrap "
                 "binfmt-support (as root)")
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)])
    if not (binfmt / "qemu-aarch64").exists():
        run(["update-binfmts", "--enable", "qemu-aarch64"])


def in_root(root: Path, script: str) -> None:
    env = {"PATH": ROOT_PATH, "HOME": "/root", "QEMU_CPU": QEMU_CPU, "LANG": "C.UTF-8",
           **{k: v for k, v in os.environ.items() if k in ("PIP_DEFAULT_TIMEOUT", "PIP_INDEX_URL")}}
    run(["chroot", str(root), "sh", "-ec", script], env=env)


def build_root(cache: Path, distro: str) -> tuple[Path, dict]:
    """The cached arm64 root with /venv holding the edge requirements; rebuilt when they change."""
    root, timings = cache / distro, {}
    if not (root / "usr/bin/python3").exists():
        started = time.monotonic()
        shutil.rmtree(cache / f"{distro}.tmp", ignore_errors=True)
        run(["debootstrap", "--arch=arm64", "--variant=minbase",
             f"--include=python3,python3-venv,python3-pip,ca-certificates,{','.join(APT_NUMPY)}", distro,
             str(cache / f"{distro}.tmp"), MIRROR], stdout=subprocess.DEVNULL)
        (cache / f"{distro}.tmp").rename(root)
        timings["debootstrap_s"] = round(time.monotonic() - started)
    # pip there needs this machine's extra CAs and its system-wide pip settings, not the per-user ones
    # (their local wheel folders hold x86 wheels).
    for crt in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(crt, root / "usr/local/share/ca-certificates" / crt.name)
    for conf in ("etc/pip.conf", "etc/resolv.conf"):
        if (Path("/") / conf).exists():
            shutil.copy(Path("/") / conf, root / conf)
    (root / "proc/cpuinfo").write_text(CPUINFO)
    cpus = root / "sys/devices/system/cpu"  # onnxruntime's cpuinfo reads the processor lists here
    cpus.mkdir(parents=True, exist_ok=True)
    for name in ("possible", "present", "online"):
        (cpus / name).write_text("0-3\n")
    if not (root / "usr/lib/python3/dist-packages/bottleneck").is_dir():  # a root cached before apt's numpy
        in_root(root, f"apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "
                      f"{' '.join(APT_NUMPY)} >/dev/null")
    requirements = [REPO / "requirements-edge.txt", REPO / "requirements-onnx.txt"]
    stamp = hashlib.sha256(b"".join(p.read_bytes() for p in requirements) + b"system-site, apt numpy").hexdigest()
    done = root / "venv/.requirements"
    if not done.exists() or done.read_text() != stamp:
        started = time.monotonic()
        for p in requirements:
            shutil.copy(p, root / "tmp" / p.name)
        # as systemd/install.sh: the system's packages visible, apt's numpy kept
        in_root(root, "update-ca-certificates >/dev/null; rm -rf /venv; python3 -m venv --system-site-packages /venv; "
                      "echo numpy==$(python3 -c 'import numpy; print(numpy.__version__)') > /tmp/constraints.txt; "
                      "/venv/bin/pip install -q --only-binary :all: -r /tmp/requirements-edge.txt "
                      "-r /tmp/requirements-onnx.txt -c /tmp/constraints.txt")
        done.write_text(stamp)
        timings["pip_s"] = round(time.monotonic() - started)
    source = root / "src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", ".venv*", "runs", "demo-out", "exports",
                                                                 "__pycache__", "*.egg-info", "build"))
    in_root(root, "cd /src && /venv/bin/pip install -q --no-deps . 2>&1 | grep -v 'opt/wheels' || true")
    return root, timings


def make_inputs(inputs: Path, shared: Path) -> None:
    """Decoded here once: the masks-oos crops, the demo clip's frames and a walk-up clip, all as PNG."""
    import cv2
    import numpy as np

    if (inputs / "done").exists():
        return
    shutil.rmtree(inputs, ignore_errors=True)
    for label_dir in sorted((shared / "datasets" / "masks-oos").iterdir()):
        if label_dir.is_dir():
            (inputs / "crops" / label_dir.name).mkdir(parents=True)
            for n, path in enumerate(sorted(label_dir.iterdir())):
                image = cv2.imread(str(path))
                if image is not None:
                    cv2.imwrite(str(inputs / "crops" / label_dir.name / f"{n:04d}.png"), image)
    shutil.copytree(shared / "models" / "face", inputs / "face")
    demo = inputs / "doorway.mp4"
    run([sys.executable, str(REPO / "tools" / "demo_clip.py"), str(demo)], stdout=subprocess.DEVNULL)
    capture, n = cv2.VideoCapture(str(demo)), 0
    (inputs / "clips" / "demo").mkdir(parents=True)
    while (frame := capture.read()[1]) is not None:
        cv2.imwrite(str(inputs / "clips" / "demo" / f"{n:04d}.png"), frame)
        n += 1
    demo.unlink()
    from train import walkthrough  # the workstation venv's (make setup); the probe itself needs edge alone

    name, photo, faces = next(walkthrough.photos(shared / "datasets" / "scenes-ilc", 1, 1))
    path = walkthrough.windows(photo.shape, np.stack([box for _, box in faces]))
    (inputs / "clips" / "walk-up").mkdir(parents=True)
    for n, window in enumerate(path):
        cv2.imwrite(str(inputs / "clips" / "walk-up" / f"{n:04d}.png"), walkthrough.frame_at(photo, window))
    (inputs / "done").write_text(name)


def tests_in_root(root: Path, shared: Path) -> str:
    """pytest on ARM_TESTS inside the root, ../shared mounted read-only at /shared: "passed" or what failed."""
    target = root / "shared"
    target.mkdir(exist_ok=True)
    run(["mount", "--bind", str(shared.resolve()), str(target)])
    try:
        run(["mount", "-o", "remount,ro,bind", str(target)])
        in_root(root, f"/venv/bin/pip install -q {PYTEST} 2>&1 | grep -v opt/wheels || true")
        in_root(root, f"cd /src && MASKWATCH_SHARED=/shared /venv/bin/python -m pytest -q -p no:cacheprovider "
                      f"{ARM_TESTS} > /pytest.log 2>&1 || true")
    finally:
        run(["umount", str(target)])
    last = (root / "pytest.log").read_text().strip().splitlines()[-1]
    return "passed: " + last.strip("= ") if " failed" not in last and " error" not in last and "passed" in last \
        else "FAILED: " + last.strip("= ")


def compare(x86: dict, arm: dict) -> tuple[list[list[str]], bool]:
    """Table rows and whether everything is within tolerance."""
    import numpy as np

    rows, ok = [], True
    for backend, mine in x86["crops"].items():
        theirs = arm["crops"].get(backend, {})
        if "error" in mine or "error" in theirs:
            rows.append([backend, "crops", (mine.get("error") or theirs.get("error"))[:60], "FAIL"])
            ok = False
            continue
        a, b = np.array(mine["probabilities"]), np.array(theirs["probabilities"])
        difference, agreement = float(np.abs(a - b).max()), float((a.argmax(1) == b.argmax(1)).mean())
        good = difference <= MAX_DIFFERENCE[backend] and agreement >= MIN_AGREEMENT[backend]
        rows.append([backend, f"{len(a)} crops", f"max |dp| {difference:.2g}, top class agrees {agreement:.3f}",
                     "ok" if good else "FAIL"])
        ok &= good
    for key, mine in x86["clips"].items():
        theirs = arm["clips"][key]
        shift = max((float(np.abs(np.array(p) - np.array(q)).max()) for f, g in zip(mine["boxes"], theirs["boxes"],
                                                                                   strict=True)
                     if len(f) == len(g) for p, q in zip(f, g, strict=True)), default=0.0)
        same_faces = all(len(f) == len(g) for f, g in zip(mine["boxes"], theirs["boxes"], strict=True))
        name, runtime = key.split()[1], key.partition("(detector on ")[2].rstrip(")")
        good = (mine["counts"] == theirs["counts"] and same_faces
                and shift <= BOX_PX.get(f"{name} {runtime}", BOX_PX[name]))
        rows.append([key, f"{len(mine['boxes'])} frames",
                     f"counts {theirs['counts']} (x86 {mine['counts']}), boxes within {shift:g} px"
                     + ("" if same_faces else ", faces differ"), "ok" if good else "FAIL"])
        ok &= good
    return rows, ok


def main(argv=None) -> int:
    try:
        return check(argv)
    except subprocess.CalledProcessError as exc:
        command = " ".join(exc.cmd) if isinstance(exc.cmd, list) else exc.cmd
        print(f"check-arm: error: {command[:160]} failed (exit {exc.returncode}) — its output is above; "
              f"a root half built is removed on the next run", file=sys.stderr)
        return 1


def check(argv) -> int:
    p = argparse.ArgumentParser(prog="tools/check_arm.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode")
    side = sub.add_parser("probe", help="(run by the check on each side) write the probe's results")
    side.add_argument("--inputs", type=Path, required=True)
    side.add_argument("--out", type=Path, required=True)
    p.add_argument("--distro", nargs="+", default=list(PYTHONS), choices=list(PYTHONS))
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "check-arm")
    p.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    p.add_argument("--table-only", action="store_true",
                   help="the table from the last run's results in --cache, nothing built or run again")
    args = p.parse_args(argv)
    if args.mode == "probe":
        probe(args.inputs, args.out, list(BACKENDS))
        return 0
    if os.geteuid() != 0:
        p.error("debootstrap and chroot need root: run it as root (sudo make check-arm)")
    if not (args.shared / "datasets" / "masks-oos").is_dir() or not (args.shared / "models" / "face").is_dir():
        p.error(f"{args.shared} has no datasets/masks-oos or models/face — give --shared (../shared)")
    host_tools()
    args.cache.mkdir(parents=True, exist_ok=True)
    inputs, x86_out = args.cache / "inputs", args.cache / "x86.json"
    if not args.table_only:
        make_inputs(inputs, args.shared)
        probe(inputs, x86_out, list(BACKENDS))
    x86 = json.loads(x86_out.read_text())
    table, all_ok = [], True
    for distro in args.distro:
        root = args.cache / distro
        timings = json.loads((root / "timings.json").read_text()) if args.table_only else build_root(root.parent,
                                                                                                      distro)[1]
        if not args.table_only:
            shutil.rmtree(root / "inputs", ignore_errors=True)
            shutil.copytree(inputs, root / "inputs")
            started = time.monotonic()
            in_root(root, "cd /src && /venv/bin/python tools/check_arm.py probe --inputs /inputs --out /arm.json")
            timings["probe_s"] = round(time.monotonic() - started)
            started = time.monotonic()
            timings["pytest"] = tests_in_root(root, args.shared)
            timings["pytest_s"] = round(time.monotonic() - started)
            abi = subprocess.run(["chroot", str(root), "/venv/bin/python", "-c", ABI_PROBE], capture_output=True,
                                 text=True, env={"QEMU_CPU": QEMU_CPU, "PATH": ROOT_PATH})
            timings["abi"] = abi.stdout.strip() if abi.returncode == 0 else f"FAIL: {abi.stderr.strip()[-200:]}"
            (root / "timings.json").write_text(json.dumps(timings))
        tags = subprocess.run(["chroot", str(root), "/venv/bin/python", "-c", WHEEL_TAGS], capture_output=True,
                              text=True, env={"QEMU_CPU": QEMU_CPU, "PATH": ROOT_PATH}).stdout.strip()
        size = subprocess.run(["du", "-sm", str(root / "venv")], capture_output=True, text=True).stdout.split()[0]
        rows, ok = compare(x86, json.loads((root / "arm.json").read_text()))
        tested, abi = timings.pop("pytest", "not run"), timings.pop("abi", "not run")
        rows.append(["pytest, modules without TensorFlow", "", tested, "ok" if tested.startswith("passed") else "FAIL"])
        rows.append(["apt numpy + C extension in venv", "", abi, "ok" if abi.startswith("numpy") else "FAIL"])
        all_ok &= ok and tested.startswith("passed") and abi.startswith("numpy")
        table.append((f"Debian {distro} (Python {PYTHONS[distro]}), venv {size} MB, "
                      + ", ".join(f"{k} {v}" for k, v in timings.items()) + f"\n  wheels: {tags}", rows))
    for title, rows in table:
        print(f"\n{title}")
        first = max(len(row[0]) for row in rows)
        for row in rows:
            print(f"  {row[0]:{first}} {row[1]:12} {row[2]:70} {row[3]}")
    print("\ncheck-arm: " + ("every result within tolerance" if all_ok else "DIFFERENCES beyond tolerance"))
    return 0 if all_ok else 1


# The wheels pip chose there, by their tags.
WHEEL_TAGS = ("import importlib.metadata as m; print(' '.join(sorted({f'{d.metadata[\"Name\"]}:' + "
              "next((l.split(': ')[1] for l in (d.read_text('WHEEL') or '').splitlines() if l.startswith('Tag')), '?') "
              "for d in m.distributions() if d.metadata['Name'].lower() in ('numpy', 'opencv-python-headless', "
              "'ai-edge-litert', 'onnxruntime')})))")


if __name__ == "__main__":
    sys.exit(main())
