"""``edge-run``: watch a doorway, count masked and unmasked people once each."""

import argparse
import json
import logging
import signal
import sys
import time

from ..paths import DEFAULT_MODEL, detector_dir

log = logging.getLogger("edge-run")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-run", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--camera", default="csi",
                   help="csi, usb, usb:N, /dev/videoN, rtsp://..., http://..., a video file or an image folder")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=float, default=None, help="ask a live camera for this frame rate")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model bundle folder, manifest or artifact")
    p.add_argument("--backend", default=None, help="litert-int8, litert-fp32, onnx-int8, onnx-fp32")
    p.add_argument("--threads", type=int, default=1, help="classifier threads")
    p.add_argument("--detector", default="auto", choices=("auto", "haar", "ssd", "yunet"))
    p.add_argument("--detector-dir", default=None, help="detector files (default: $MASKWATCH_MODELS or "
                   "~/.local/share/maskwatch/models)")
    p.add_argument("--detect-max-side", type=int, default=640, help="detect on frames shrunk to this size")
    p.add_argument("--min-hits", type=int, default=3, help="frames before a person is counted")
    p.add_argument("--db", default="counts.db", help="SQLite file for the counts")
    p.add_argument("--detections", default=None, help="write one JSON line per frame to this file")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--stall-timeout", type=float, default=30.0,
                   help="exit non-zero after this many seconds without a frame from a live camera")
    p.add_argument("--summary-every", type=float, default=60.0, help="seconds between summary log lines")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def summary(store, violation: str | None, fps: float) -> str:
    totals = store.totals()
    unmasked = totals.get(violation, 0) if violation else 0
    masked = sum(totals.values()) - unmasked
    total = masked + unmasked
    compliance = f"{100.0 * masked / total:.1f}%" if total else "n/a"
    return f"masked={masked} unmasked={unmasked} compliance={compliance} fps={fps:.1f}"


def body(args) -> int:
    from ..cameras import open_camera
    from ..classifiers import load_classifier
    from ..counts import CountStore
    from ..detectors import create_detector
    from ..errors import CameraError
    from ..pipeline import Pipeline
    from ..tracker import Tracker

    classifier = load_classifier(args.model, args.backend, args.threads)
    manifest = classifier.manifest
    detector = create_detector(args.detector, args.detector_dir or detector_dir(), args.detect_max_side)
    violation_index = manifest.labels.index(manifest.violation_label) if manifest.violation_label else None
    tracker = Tracker(violation_index, manifest.threshold, min_hits=args.min_hits)
    store = CountStore(args.db)
    camera = open_camera(args.camera, args.width, args.height, args.fps)
    pipeline = Pipeline(detector, classifier, tracker, store,
                        on_count=lambda label, track: log.info("counted track %d: %s (%.2f)",
                                                               track.id, label, track.confidence))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    detections = open(args.detections, "w") if args.detections else None  # noqa: SIM115 - closed in finally
    started = last_frame = last_summary = time.monotonic()
    frames = 0
    log.info("running: camera %s, detector %s, model %s (%s)", args.camera, detector.name,
             manifest.name, classifier.artifact.backend)
    try:
        while not stop:
            if args.max_frames is not None and frames >= args.max_frames:
                break
            now = time.monotonic()
            if args.duration is not None and now - started >= args.duration:
                break
            frame = camera.read()
            if frame is None:
                break  # a file or folder has ended
            if frame.image is None:
                if time.monotonic() - last_frame > args.stall_timeout:
                    raise CameraError(f"no frame from {args.camera} for {args.stall_timeout:.0f} s — "
                                      "check the camera; the service manager will restart edge-run")
                continue
            last_frame = time.monotonic()
            faces = pipeline.process(frame.image, frame.independent)
            if detections is not None:
                detections.write(json.dumps({"frame": frames, "source": frame.source,
                                             "faces": [f.as_json() for f in faces]}) + "\n")
            frames += 1
            if last_frame - last_summary >= args.summary_every:
                log.info(summary(store, manifest.violation_label, frames / (last_frame - started)))
                last_summary = last_frame
    except KeyboardInterrupt:
        stop.append("SIGINT")
    finally:
        camera.close()
        store.flush()
        elapsed = max(time.monotonic() - started, 1e-9)
        print(summary(store, manifest.violation_label, frames / elapsed))
        store.close()
        if detections is not None:
            detections.close()
    return 0


def main(argv=None) -> int:
    from . import run_main

    args = parser().parse_args(argv)
    return run_main("edge-run", body, args)


if __name__ == "__main__":
    sys.exit(main())
