"""Measuring the runtime's speed: frames to time it on, per-stage latency of the real pipeline for one
setting, the machine it ran on, and regressions against an earlier result (``edge-bench`` prints them)."""

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from .cameras.base import Camera, Frame
from .config import SpeedConfig
from .paths import detector_dir, model_path

STAGES = ("capture", "detect", "crop", "classify", "track", "total")
FACE = Path(__file__).resolve().parent / "assets" / "face.jpg"


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
    from .cameras import open_camera

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


@dataclass(frozen=True)
class Settings:
    """What every cell of a matrix shares: the model, where frames come from, how many, the fast path."""

    model: str
    detector_dir: str | None = None
    source: str | None = None  # a video file or image folder; None: synthetic frames
    frames: int = 200
    warmup: int = 20
    exact: bool = False
    motion_gate: bool | None = None
    motion_regions: bool | None = None
    settled: float | None = SpeedConfig().settled
    detect_runtime: str = "auto"  # what runs the detector (edge.detectors.RUNTIMES)


def run_cell(settings: Settings, detector_name: str, backend: str, threads: int, faces: int | None,
             detect_every: int | None) -> dict:
    """One cell of the matrix; ``faces`` is None when frames come from ``settings.source``."""
    from .alerts import NullAlerts
    from .classifiers import load_classifier
    from .detectors import create_detector
    from .pipeline import Laps, Pipeline
    from .policy import resolve
    from .runner import update_alerts

    args = settings
    classifier = load_classifier(args.model, backend, threads)
    detector = create_detector(detector_name, args.detector_dir or detector_dir(), threads=threads,
                               runtime=args.detect_runtime)
    speed = SpeedConfig(preset="exact" if args.exact else "auto", detect_every=detect_every,
                        motion_gate=args.motion_gate, motion_regions=args.motion_regions,
                        settled=args.settled).settings(detector.name)
    pipeline, alerts = Pipeline(detector, classifier, **speed), NullAlerts()
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
    stages = {stage: stats(values) for stage, values in times.items()}
    return {"detector": detector.name, "detector_runtime": detector.runtime, "backend": backend, "threads": threads,
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
    from . import manifest as manifests

    path = model_path(model)
    bundle = path if path.is_dir() else path.parent
    info["model_sha256"] = {a.file: a.sha256 for a in manifests.load(bundle).artifacts}
    return info


def earlier(path: Path) -> dict:
    """An earlier --json, or one line saying why it is not one."""
    from .errors import ConfigError

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
    return (run["detector"], run.get("detector_runtime", "?"), run["backend"], run["threads"], run["faces"],
            run.get("detect_every", 1),
            run.get("motion_gate", False), run.get("motion_regions", False))


def regressions(old: dict, new: dict, tolerance: float) -> list[str]:
    """Slowdowns of the cells both results hold; ConfigError when they hold none in common."""
    from .errors import ConfigError

    key = _key
    before = {key(run): run for run in old["runs"]}
    if not any(key(run) in before for run in new["runs"]):
        raise ConfigError("the --compare result shares no setting (detector and its runtime, backend, threads, faces, "
                          "fast path) with this run: nothing to compare — run edge-bench with the same flags")
    found = []
    for run in new["runs"]:
        if key(run) in before:
            # The mean, not p50: with the fast path most frames skip detection and p50 hides it.
            was, now = before[key(run)]["stages"]["total"]["mean_ms"], run["stages"]["total"]["mean_ms"]
            if now > was * (1 + tolerance):
                found.append(f"{'/'.join(map(str, key(run)))}: total mean {was:.2f} -> {now:.2f} ms "
                             f"(+{100 * (now / was - 1):.0f}%)")
    return found


# The soak test: edge-run's own loop on a clip played over and over, watching memory and stalls. It builds
# the runtime exactly as edge-run does (model, detector, tracker, SQLite counts, alerts off) and reports
# resident memory after warm-up and at the end, the longest gap between two frames, throughput, and the
# people counted against the people the clip holds (``edge-bench --soak CLIP``, ``make soak``).
SOAK_WARMUP = 1000  # frames before the first memory reading: interpreters and caches settle


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmRSS in /proc/self/status")


class LoopingProbe(Camera):
    """Replays a clip without end and records frame gaps and memory as the runner reads."""

    def __init__(self, clip: str, report_every: int):
        self.clip, self.report_every = clip, report_every
        from .cameras import open_camera

        self._camera = open_camera(clip)
        self.frames_per_loop: int | None = None
        self.frames = 0
        self.longest_gap = 0.0
        self.rss_start = self.rss_end = self.rss_peak = rss_mb()
        self._last = None

    def read(self) -> Frame | None:
        frame = self._camera.read()
        if frame is None:
            from .cameras import open_camera

            self._camera.close()
            self._camera = open_camera(self.clip)
            self.frames_per_loop = self.frames_per_loop or self.frames
            frame = self._camera.read()
        now = time.perf_counter()
        if self._last is not None:
            self.longest_gap = max(self.longest_gap, now - self._last)
        self._last = now
        self.frames += 1
        if self.frames == SOAK_WARMUP:
            self.rss_start = rss_mb()
        if self.frames % self.report_every == 0:
            self.rss_end = rss_mb()
            self.rss_peak = max(self.rss_peak, self.rss_end)
            print(f"soak: {self.frames} frames, rss {self.rss_end:.1f} MB, longest gap "
                  f"{self.longest_gap * 1000:.0f} ms", file=sys.stderr, flush=True)
        return frame

    def close(self) -> None:
        self._camera.close()


def soak(clip: str, frames: int, people_per_loop: int, detector: str = "yunet", detector_dir: str | None = None,
         model: str | None = None) -> dict:
    """The soak test's figures after ``frames`` frames of ``clip``, played over and over."""
    import tempfile

    from . import config as configs
    from .runtime import open_runtime

    with tempfile.TemporaryDirectory() as scratch:
        config = configs.from_dict({
            "camera": {"source": clip},
            "model": {"path": model} if model else {},
            "detector": {"name": detector, "model_dir": detector_dir},
            "alerts": {"backend": "none"},
            "output": {"db": str(Path(scratch) / "counts.db"), "summary_every": 3600.0},
        })
        runtime = open_runtime(config)
        runtime.camera.close()
        probe = LoopingProbe(clip, report_every=max(frames // 20, 1))
        runner = runtime.runner
        runner.camera = probe
        started = time.perf_counter()
        runner.run(max_frames=frames)
        elapsed = time.perf_counter() - started
        counted = sum(runtime.store.totals().values())
    loops = runner.frames / (probe.frames_per_loop or runner.frames)
    pipeline = runtime.pipeline
    return {
        "frames": runner.frames,
        "seconds": round(elapsed, 1),
        "fps": round(runner.frames / elapsed, 1),
        "detector": pipeline.detector.name,
        "backend": pipeline.classifier.artifact.backend,
        "rss_start_mb": round(probe.rss_start, 1),
        "rss_end_mb": round(probe.rss_end, 1),
        "rss_peak_mb": round(probe.rss_peak, 1),
        "rss_growth_mb": round(probe.rss_end - probe.rss_start, 1),
        "longest_gap_ms": round(probe.longest_gap * 1000, 1),
        "people_counted": counted,
        "people_shown": round(people_per_loop * loops),
        "loops": round(loops, 2),
    }
