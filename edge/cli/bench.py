"""``edge-bench``: per-stage latency of the real pipeline, for a matrix of settings.

By default it makes its own 640x480 frames with 0-3 faces (a public-domain photo shipped
with the package), so it needs no camera. Each cell of the matrix (detector x backend x
threads x faces x detect-every) runs warm-up frames, then reports p50/p90/p99/mean/max per
stage and FPS. The fast path's switches (``--detect-every``, ``--motion-gate``,
``--motion-regions``, ``--settled``) are edge-run's own (config section [speed]).

Usage::

    edge-bench                                              # edge-run's detector and preset, litert-int8, 1 face
    edge-bench --detector haar yunet --backend litert-int8 onnx-int8 --faces 0 1 3 --json bench.json
    edge-bench --detector yunet --detect-every 1 3 --motion-gate --faces 0 1 3   # the fast path
    edge-bench --detector haar --motion-regions --source doorway.mp4     # search only what changed
    edge-bench --json new.json --compare old.json           # flags regressions beyond --tolerance
    edge-bench --soak doorway.mp4 --frames 100000 --detector yunet   # edge-run's loop for hours: memory, stalls
"""

import argparse
import dataclasses
import json
import resource
import sys
from pathlib import Path

from .. import detectors
from ..benchmark import STAGES, Settings, earlier, machine, regressions, run_cell, soak
from ..classifiers import backends
from ..config import SpeedConfig
from ..console import Parser, number, whole_number
from ..paths import DEFAULT_MODEL


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=None, help="a video file or image folder (default: synthetic frames)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle folder or manifest")
    p.add_argument("--detector", nargs="+", default=["auto"], choices=detectors.choices(),
                   help="auto (edge-run's default): YuNet (shipped in the package), else Haar eye pairs")
    p.add_argument("--detector-dir", default=None, help="detector files (default: edge-models' folder)")
    p.add_argument("--detect-runtime", default=detectors.AUTO, choices=(detectors.AUTO, *detectors.RUNTIMES),
                   help="what runs the detector (default: edge-run's auto)")
    p.add_argument("--backend", nargs="+", default=["litert-int8"],
                   choices=backends())
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
    p.add_argument("--frames", type=whole_number(1), default=None,
                   help="timed frames per cell (default: 200); with --soak, frames in all (default: 100000)")
    p.add_argument("--soak", default=None, metavar="CLIP",
                   help="the soak test instead of the matrix: edge-run's own loop (SQLite counts, alerts off) on "
                        "this clip played over and over, reporting memory, the longest gap between frames and the "
                        "people counted (the first --detector)")
    p.add_argument("--people-per-loop", type=whole_number(1), default=2,
                   help="with --soak: people the clip shows (the demo clip: 2)")
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


def body(args) -> int:
    if args.soak is not None:
        figures = soak(args.soak, args.frames or 100_000, args.people_per_loop, args.detector[0], args.detector_dir,
                       args.model)
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    args.frames = args.frames or 200
    before = earlier(args.compare) if args.compare else None  # a wrong --compare is said before the long run
    settings = Settings(args.model, args.detector_dir, args.source, args.frames, args.warmup, args.exact,
                        args.motion_gate, args.motion_regions, args.settled, args.detect_runtime)
    cells = [(d, b, t, f, k) for d in args.detector for b in args.backend for t in args.threads
             for f in (args.faces if not args.source else [None]) for k in args.detect_every]
    runs = []
    for index, (d, b, t, f, k) in enumerate(cells, 1):
        print(f"[{index}/{len(cells)}] {d} {b} threads={t} faces={f} detect-every={k or 'preset'} ...", file=sys.stderr,
              flush=True)
        runs.append(run_cell(settings, d, b, t, f, k))
    print(f"fast path {'exact' if args.exact else 'preset'}, settled {args.settled}; k: detect every k-th frame, "
          "g/r: motion gate / regions on; stage columns: mean ms per frame")
    header = f"{'detector':25}{'backend':13}{'thr':>4}{'faces':>6}{'k':>3}{'g/r':>4}" + "".join(
        f"{s:>10}" for s in STAGES)
    print(header + f"{'total p99':>11}{'fps':>8}")
    for run in runs:
        cells_ms = "".join(f"{run['stages'][s]['mean_ms']:>10.2f}" for s in STAGES)
        switches = "".join("+" if run[key] else "-" for key in ("motion_gate", "motion_regions"))
        detector = f"{run['detector']} ({run['detector_runtime']})"
        print(f"{detector:25}{run['backend']:13}{run['threads']:>4}{run['faces']!s:>6}{run['detect_every']:>3}"
              f"{switches:>4}{cells_ms}{run['stages']['total']['p99_ms']:>11.2f}{run['fps']:>8.1f}")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_rss_mb:.0f} MB")
    result = {"machine": machine(args.model), "peak_rss_mb": peak_rss_mb, "runs": runs}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.compare:
        found = regressions(before, result, args.tolerance)
        for line in found:
            print(f"edge-bench: regression: {line}", file=sys.stderr)
        if found:
            return 1
        print(f"no regression beyond {100 * args.tolerance:.0f}% against {args.compare}")
    return 0


def main(argv=None) -> int:
    from ..console import run_main

    return run_main("edge-bench", body, parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
