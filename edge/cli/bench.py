"""``edge-bench``: per-stage latency of the real pipeline, for a matrix of settings.

By default it makes its own 640x480 frames with 0-3 faces (a public-domain photo shipped
with the package), so it needs no camera. Each cell of the matrix (detector x backend x
threads x faces x detect-every) runs warm-up frames, then reports p50/p90/p99/mean/max per
stage and FPS. The fast path's switches (``--detect-every``, ``--motion-gate``,
``--motion-regions``, ``--settled``) are edge-run's own (config section [speed]).

Usage::

    edge-bench                                              # haar, litert-int8, 1 thread, 1 face
    edge-bench --detector haar yunet --backend litert-int8 onnx-int8 --faces 0 1 3 --json bench.json
    edge-bench --detector yunet --detect-every 1 3 --motion-gate --faces 0 1 3   # the fast path
    edge-bench --detector haar --motion-regions --source doorway.mp4     # search only what changed
    edge-bench --json new.json --compare old.json           # flags regressions beyond --tolerance
"""

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ..config import SpeedConfig
from ..paths import DEFAULT_MODEL, detector_dir, model_path
from . import Parser, number, whole_number

STAGES = ("capture", "detect", "crop", "classify", "track", "total")
FACE = Path(__file__).resolve().parents[1] / "assets" / "face.jpg"


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=None, help="a video file or image folder (default: synthetic frames)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle folder or manifest")
    p.add_argument("--detector", nargs="+", default=["auto"], choices=("auto", "haar", "ssd", "yunet"),
                   help="auto (edge-run's default): YuNet when its file is present, else Haar eye pairs")
    p.add_argument("--detector-dir", default=None, help="detector files (default: edge-models' folder)")
    p.add_argument("--backend", nargs="+", default=["litert-int8"],
                   choices=("litert-int8", "litert-fp32", "onnx-int8", "onnx-fp32"))
    p.add_argument("--threads", nargs="+", type=whole_number(1, 64), default=[1],
                   help="threads of the classifier and of OpenCV (the detector)")
    p.add_argument("--faces", nargs="+", type=whole_number(0, 3), default=[1],
                   help="faces per synthetic frame")
    p.add_argument("--detect-every", nargs="+", type=whole_number(1, 30), default=[None],
                   help="detect on every k-th frame (default: edge-run's preset for the detector)")
    p.add_argument("--motion-gate", action=argparse.BooleanOptionalAction, default=None,
                   help="skip detection while nothing moves (default: the preset's)")
    p.add_argument("--motion-regions", action=argparse.BooleanOptionalAction, default=None,
                   help="search only changed parts of the frame and around tracked faces (default: the preset's)")
    p.add_argument("--exact", action="store_true", help="edge-run's --exact: every frame, whole frames")
    p.add_argument("--settled", type=_settled, default=SpeedConfig().settled,
                   help="stop classifying counted people this sure of their label ('off': never stop)")
    p.add_argument("--frames", type=whole_number(1), default=200, help="timed frames per cell")
    p.add_argument("--warmup", type=whole_number(0), default=20, help="untimed frames first")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--compare", type=Path, default=None, help="an earlier --json to check for regressions")
    p.add_argument("--tolerance", type=number(0), default=0.15, help="slowdown of the mean total counted as regression")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _settled(text: str) -> float | None:
    """--settled as edge-run reads it: the config's own range and its "off"."""
    from ..config import SpeedConfig
    from ..errors import ConfigError
    from ..schema import from_text

    f = next(f for f in dataclasses.fields(SpeedConfig) if f.name == "settled")
    try:
        return from_text(f.type, text, dict(f.metadata), "--settled", ConfigError)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--settled ")) from None


def synthetic_frames(faces: int, count: int):
    """640x480 frames with ``faces`` copies of the bundled 200x200 portrait (the face about 130 px
    wide, as a camera beside a door sees it), drifting a little per frame.

    The background is a fine texture and a door frame. It is blurred as a lens blurs: raw
    per-pixel noise, which no camera delivers, made Haar's empty-frame search 5x slower.
    """
    import cv2

    face = cv2.imread(str(FACE))
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(60, 120, (480, 640, 3), dtype=np.uint8), (0, 0), 1.5)
    cv2.rectangle(background, (150, 20), (490, 480), (50, 55, 60), 8)
    for i in range(count):
        frame = background.copy()
        for k in range(faces):
            x, y = (220, 15, 425)[k] + (i % 10), 140 + (i % 10)  # the first in the middle
            frame[y:y + face.shape[0], x:x + face.shape[1]] = face
        yield frame


def source_frames(source: str, count: int):
    from ..cameras import open_camera

    with open_camera(source) as camera:
        frames = []
        while len(frames) < count and (frame := camera.read()) is not None:
            frames.append(frame.image)
        if not frames:
            raise camera.nothing_read(source)
    for i in range(count):
        yield frames[i % len(frames)]


def median_ms(call, calls: int = 100, warmup: int = 10) -> float:
    """Median milliseconds of ``call()`` over ``calls`` runs, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()), "max_ms": float(a.max())}


def run_cell(args, detector_name: str, backend: str, threads: int, faces: int | None, detect_every: int) -> dict:
    """One cell of the matrix; ``faces`` is None when frames come from --source."""
    from ..alerts import NullAlerts
    from ..classifiers import load_classifier
    from ..counts import CountStore
    from ..detectors import create_detector
    from ..pipeline import Laps, Pipeline
    from ..policy import resolve
    from ..runner import update_alerts

    classifier = load_classifier(args.model, backend, threads)
    detector = create_detector(detector_name, args.detector_dir or detector_dir(), threads=threads)
    store = CountStore(":memory:")
    speed = SpeedConfig(preset="exact" if args.exact else "auto", detect_every=detect_every,
                        motion_gate=args.motion_gate, motion_regions=args.motion_regions,
                        settled=args.settled).settings(detector.name)
    pipeline, alerts = Pipeline(detector, classifier, store, **speed), NullAlerts()
    policy = resolve(classifier.manifest, {})
    total = args.warmup + args.frames
    frames = source_frames(args.source, total) if args.source else synthetic_frames(faces, total)
    times: dict[str, list[float]] = {stage: [] for stage in STAGES}
    found = detected = searched = 0
    for index in range(total):
        laps = Laps()
        image = next(frames)  # synthetic frames or frames decoded ahead: the capture hand-over
        laps("capture")
        result = pipeline.process(image, lap=laps)
        update_alerts(alerts, time.monotonic(), result, policy)
        laps("track")
        laps.ms["total"] = (laps.last - laps.start) * 1000
        if index == args.warmup - 1:
            detected, searched = pipeline.detections, pipeline.searched
        if index >= args.warmup:
            found += len(result.faces)
            for stage in STAGES:
                times[stage].append(laps.ms.get(stage, 0.0))  # a frame the fast path skips has no crop stage
    store.close()
    stages = {stage: stats(values) for stage, values in times.items()}
    return {"detector": detector.name, "backend": backend, "threads": threads,
            "faces": faces, "frames": args.frames, **speed,
            "detected_share": (pipeline.detections - detected) / args.frames,
            # of the frame's area, per frame the detector ran on
            "searched_share": (pipeline.searched - searched) / max(1, pipeline.detections - detected),
            "faces_found_per_frame": found / args.frames,
            "fps": 1000.0 / stages["total"]["mean_ms"], "stages": stages}


def machine(model: str) -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                           if line.startswith(("model name", "Model")))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    governor = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    info["governor"] = governor.read_text().strip() if governor.is_file() else None
    versions = {}
    for name in ("numpy", "opencv-python-headless", "ai-edge-litert", "onnxruntime"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    info["versions"] = versions
    from .. import manifest as manifests

    path = model_path(model)
    bundle = path if path.is_dir() else path.parent
    info["model_sha256"] = {a.file: a.sha256 for a in manifests.load(bundle).artifacts}
    return info


def earlier(path: Path) -> dict:
    """An earlier --json, or one line saying why it is not one."""
    from ..errors import ConfigError

    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read --compare {path} ({(exc.strerror or 'unreadable').lower()})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"--compare {path} is not JSON — give a file edge-bench --json wrote") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list) or not all(isinstance(r, dict) and "stages" in r for r in runs):
        raise ConfigError(f"--compare {path} is not an edge-bench result (no runs) — give a file edge-bench "
                          "--json wrote")
    return data


def _key(run: dict) -> tuple:
    return (run["detector"], run["backend"], run["threads"], run["faces"], run.get("detect_every", 1),
            run.get("motion_gate", False), run.get("motion_regions", False))


def regressions(old: dict, new: dict, tolerance: float) -> list[str]:
    """Slowdowns of the cells both results hold; ConfigError when they hold none in common."""
    from ..errors import ConfigError

    key = _key
    before = {key(run): run for run in old["runs"]}
    if not any(key(run) in before for run in new["runs"]):
        raise ConfigError("the --compare result shares no setting (detector, backend, threads, faces, fast path) "
                          "with this run: nothing to compare — run edge-bench with the same flags")
    found = []
    for run in new["runs"]:
        if key(run) in before:
            # The mean, not p50: with the fast path most frames skip detection and p50 hides it.
            was, now = before[key(run)]["stages"]["total"]["mean_ms"], run["stages"]["total"]["mean_ms"]
            if now > was * (1 + tolerance):
                found.append(f"{'/'.join(map(str, key(run)))}: total mean {was:.2f} -> {now:.2f} ms "
                             f"(+{100 * (now / was - 1):.0f}%)")
    return found


def body(args) -> int:
    cells = [(d, b, t, f, k) for d in args.detector for b in args.backend for t in args.threads
             for f in (args.faces if not args.source else [None]) for k in args.detect_every]
    runs = []
    for index, (d, b, t, f, k) in enumerate(cells, 1):
        print(f"[{index}/{len(cells)}] {d} {b} threads={t} faces={f} detect-every={k or 'preset'} ...", file=sys.stderr,
              flush=True)
        runs.append(run_cell(args, d, b, t, f, k))
    print(f"fast path {'exact' if args.exact else 'preset'}, settled {args.settled}; k: detect every k-th frame, "
          "g/r: motion gate / regions on; stage columns: mean ms per frame")
    header = f"{'detector':9}{'backend':13}{'thr':>4}{'faces':>6}{'k':>3}{'g/r':>4}" + "".join(
        f"{s:>10}" for s in STAGES)
    print(header + f"{'total p99':>11}{'fps':>8}")
    for run in runs:
        cells_ms = "".join(f"{run['stages'][s]['mean_ms']:>10.2f}" for s in STAGES)
        switches = "".join("+" if run[key] else "-" for key in ("motion_gate", "motion_regions"))
        print(f"{run['detector']:9}{run['backend']:13}{run['threads']:>4}{run['faces']!s:>6}{run['detect_every']:>3}"
              f"{switches:>4}{cells_ms}{run['stages']['total']['p99_ms']:>11.2f}{run['fps']:>8.1f}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_rss_mb:.0f} MB")
    result = {"machine": machine(args.model), "peak_rss_mb": peak_rss_mb, "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.compare:
        found = regressions(earlier(args.compare), result, args.tolerance)
        for line in found:
            print(f"edge-bench: regression: {line}", file=sys.stderr)
        if found:
            return 1
        print(f"no regression beyond {100 * args.tolerance:.0f}% against {args.compare}")
    return 0


def main(argv=None) -> int:
    from . import run_main

    return run_main("edge-bench", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
