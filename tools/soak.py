"""Soak test: edge-run's own loop on a clip played over and over, watching memory and stalls.

Usage: python tools/soak.py CLIP [--frames 100000] [--detector yunet --detector-dir DIR] [--json FILE]

A benchmark, not a unit test (``make soak`` runs it on the demo clip). It builds the
runtime exactly as edge-run does (model, detector, tracker, SQLite counts, alerts off)
and reports resident memory after warm-up and at the end, the longest gap between two
frames, throughput, and the people counted against the people the clip holds.
"""

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from edge import config as configs
from edge.cameras import open_camera
from edge.cameras.base import Camera, Frame
from edge.cli import Parser, whole_number
from edge.cli.run import build
from edge.notify import Notifier
from edge.runner import Outputs, Runner

WARMUP = 1000  # frames before the first memory reading: interpreters and caches settle


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
        self._camera = open_camera(clip)
        self.frames_per_loop: int | None = None
        self.frames = 0
        self.longest_gap = 0.0
        self.rss_start = self.rss_end = self.rss_peak = rss_mb()
        self._last = None

    def read(self) -> Frame | None:
        frame = self._camera.read()
        if frame is None:
            self._camera.close()
            self._camera = open_camera(self.clip)
            self.frames_per_loop = self.frames_per_loop or self.frames
            frame = self._camera.read()
        now = time.perf_counter()
        if self._last is not None:
            self.longest_gap = max(self.longest_gap, now - self._last)
        self._last = now
        self.frames += 1
        if self.frames == WARMUP:
            self.rss_start = rss_mb()
        if self.frames % self.report_every == 0:
            self.rss_end = rss_mb()
            self.rss_peak = max(self.rss_peak, self.rss_end)
            print(f"soak: {self.frames} frames, rss {self.rss_end:.1f} MB, longest gap "
                  f"{self.longest_gap * 1000:.0f} ms", file=sys.stderr, flush=True)
        return frame

    def close(self) -> None:
        self._camera.close()


def main(argv=None) -> int:
    p = Parser(prog="tools/soak.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", help="a video file with faces (make soak uses the demo clip)")
    p.add_argument("--frames", type=whole_number(1), default=100_000)
    p.add_argument("--people-per-loop", type=whole_number(1), default=2,
                   help="people the clip shows (the demo clip: 2)")
    p.add_argument("--detector", default="yunet")
    p.add_argument("--detector-dir", default=None)
    p.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="soak: %(levelname)s %(message)s")

    with tempfile.TemporaryDirectory() as scratch:
        config = configs.from_dict({
            "camera": {"source": args.clip},
            "detector": {"name": args.detector, "model_dir": args.detector_dir},
            "alerts": {"backend": "none"},
            "output": {"db": str(Path(scratch) / "counts.db"), "summary_every": 3600.0},
        })
        pipeline, camera, alerts, store, _, policy = build(config)
        camera.close()
        probe = LoopingProbe(args.clip, report_every=max(args.frames // 20, 1))
        runner = Runner(probe, pipeline, store, alerts, Notifier(), Outputs(None, None, None),
                        policy=policy, source_name=args.clip,
                        stall_timeout=30.0, summary_every=3600.0)
        started = time.perf_counter()
        runner.run(max_frames=args.frames)
        elapsed = time.perf_counter() - started
        counted = sum(store.totals().values())
    loops = runner.frames / (probe.frames_per_loop or runner.frames)
    figures = {
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
        "people_shown": round(args.people_per_loop * loops),
        "loops": round(loops, 2),
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
