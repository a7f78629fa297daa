"""``edge-run``: watch a doorway, count masked and unmasked people once each.

Options come from the built-in defaults, then ``--config FILE.toml``, then the flags given;
``--print-config`` shows the result as a config file.
"""

import argparse
import dataclasses
import logging
import signal
import sys
from contextlib import closing
from pathlib import Path

from .. import config as configs
from .. import policy as policies
from ..paths import DEFAULT_MODEL, detector_dir
from . import Parser, number, whole_number

log = logging.getLogger("edge-run")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="edge-run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None, help="TOML config file; flags given override it")
    for key, flag, f in configs.options():
        kinds = configs.allowed_types(f)
        default = "" if f.default is None else f" (default: {f.default})"
        if bool in kinds:
            p.add_argument(flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                           help=f.metadata["help"] + default)
            continue
        # The text goes to the config's own checks, which word every error the same as a file's.
        metavar = "|".join(f.metadata["choices"]) if f.metadata["choices"] else key.split(".")[1].upper()
        p.add_argument(flag, dest=key, default=None, metavar=metavar, help=f.metadata["help"] + default)
    p.add_argument("--max-frames", type=whole_number(1), default=None, help="stop after this many frames")
    p.add_argument("--duration", type=number(0, above=True), default=None, help="stop after this many seconds")
    p.add_argument("--exact", action="store_const", const="exact", dest="speed.preset",
                   help="detect on every frame, whole frames, for any detector (= --preset exact)")
    p.add_argument("--print-config", action="store_true", help="print the resulting config as TOML and exit")
    p.add_argument("--check", action="store_true",
                   help="load the model, open the camera, read one frame; exit 0 if all work, else 1")
    p.add_argument("--snapshot", type=Path, default=None, metavar="FILE.jpg",
                   help="with --check: write that frame, annotated as the live view shows it, to this file, "
                        "and say whether the faces are big enough")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def resolve(args) -> configs.RunConfig:
    base = configs.load(args.config) if args.config else configs.RunConfig()
    given = {key: getattr(args, key) for key, _, _ in configs.options() if getattr(args, key) is not None}
    return configs.with_overrides(base, given)


def load_models(config: configs.RunConfig):
    from ..classifiers import load_classifier
    from ..detectors import create_detector

    classifier = load_classifier(config.model.path or DEFAULT_MODEL, config.model.backend, config.model.threads)
    d = config.detector
    return classifier, create_detector(d.name, d.model_dir or detector_dir(), d.max_side, d.min_score, d.threads)


def build(config: configs.RunConfig, pin_factory=None):
    """The runtime's parts, in the order a failure is cheapest to report: model, detector, counts DB,
    live view, MQTT, camera, metrics, pins; what was opened is closed again when a later part fails.
    The observers (view, MQTT, metrics) are the ones configured, in that order."""
    from contextlib import ExitStack

    from ..alerts import create_alerts
    from ..cameras import open_camera
    from ..counts import CountStore
    from ..mqtt import open_publisher
    from ..pipeline import Pipeline
    from ..prometheus import open_metrics

    classifier, detector = load_models(config)
    policy = policies.resolve(classifier.manifest, config.policy.overrides())
    labels = policies.countable(classifier.manifest.labels)
    c = config.camera
    with ExitStack() as opened:
        store = opened.enter_context(closing(CountStore(config.output.db, outbox=config.mqtt.host is not None)))
        view = open_view_for(config, classifier, detector, policy, labels)
        publisher = open_publisher(config.mqtt, config.output.db, policy, labels,
                                   f"{classifier.manifest.name}@{classifier.artifact.sha256[:12]}")
        observers = [o for o in (view, publisher) if o is not None]
        for observer in observers:
            opened.callback(observer.close)
        camera = opened.enter_context(open_camera(c.source, c.width, c.height, c.fps))
        metrics = open_metrics(config.metrics, store, camera, publisher)
        if metrics is not None:
            observers.append(metrics)
            opened.callback(metrics.close)
        alerts = create_alerts(config.alerts, pin_factory)
        opened.pop_all()

    def on_count(label, track):
        log.info("counted track %d: %s (%.2f)", track.id, label, track.confidence)

    pipeline = Pipeline(detector, classifier, store, on_count=on_count, **dataclasses.asdict(config.tracker),
                        **config.speed.settings(detector.name))
    return pipeline, camera, alerts, store, observers, policy


def open_view_for(config: configs.RunConfig, classifier, detector, policy, labels: list[str]):
    from ..view import open_view
    from ..view.status import accurate_from

    info = {"source": config.camera.source, "detector": detector.name, "model": classifier.shown_name,
            "backend": classifier.artifact.backend, "policy": policy.severity}
    return open_view(config.view, info, config.output.db, policy, labels,
                     accurate_from(classifier.artifact.metrics))


def check(config: configs.RunConfig, snapshot: Path | None = None) -> None:
    """What a run would open, opened once: model (and its self-test), detector, pins, counts DB, one frame."""
    from ..alerts import create_alerts
    from ..cameras import open_camera
    from ..counts import CountStore
    from ..errors import CameraError

    classifier, detector = load_models(config)
    create_alerts(config.alerts).close()
    db = Path(config.output.db)
    existed = db.exists()
    CountStore(db).close()  # proves the database can be written
    if not existed:  # a check leaves nothing behind
        for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
    c = config.camera
    with open_camera(c.source, c.width, c.height, c.fps) as camera:
        frame = camera.read()
        if frame is None:
            raise camera.nothing_read(c.source)
        if frame.image is None:
            raise CameraError(f"{c.source} opened but gave no frame in time — check the camera or stream")
    height, width = frame.image.shape[:2]
    print(f"edge-run: check ok: {c.source} gives {width}x{height} frames; model {classifier.shown_name} "
          f"({classifier.artifact.backend}, self-test {'passed' if classifier.manifest.selftest else 'missing'}); "
          f"detector {detector.name}; counts {db} writable; alerts {describe_alerts(config.alerts)}")
    if snapshot is not None:
        print(f"edge-run: snapshot {snapshot}: {write_snapshot(snapshot, frame.image, config, classifier, detector)}")


def write_snapshot(path: Path, image, config: configs.RunConfig, classifier, detector) -> str:
    """One frame through the whole chain, annotated as the live view draws it, into ``path``; counts
    nothing. Returns what a person needs to know: the faces found and whether they are big enough."""
    import cv2

    from ..counts import CountStore
    from ..errors import ConfigError
    from ..pipeline import Pipeline
    from ..snapshots import annotate
    from ..view.status import accurate_from, aim

    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the snapshot: {path.parent} is not an existing folder")
    policy = policies.resolve(classifier.manifest, config.policy.overrides())
    with closing(CountStore(":memory:")) as nowhere:
        result = Pipeline(detector, classifier, nowhere, **dataclasses.asdict(config.tracker)).process(
            image, independent=True)
    try:
        written = cv2.imwrite(str(path), annotate(image, result, policy))
    except cv2.error:
        written = False
    if not written:
        raise ConfigError(f"cannot write the snapshot {path} — give a .jpg or .png path in a writable folder")
    hint = aim([min(face.box[2:]) for face in result.faces], accurate_from(classifier.artifact.metrics))["hint"]
    return f"{len(result.faces)} face(s); {hint}"


def describe_alerts(alerts: configs.AlertsConfig) -> str:
    wired = [f"{name}={pin}" for name in ("green_led", "red_led", "buzzer", "relay")
             if (pin := getattr(alerts, name)) is not None]
    return f"{alerts.backend} ({', '.join(wired)})" if wired and alerts.backend != "none" else "none wired"


def body(args, pin_factory=None) -> int:
    from ..errors import ConfigError, CountsError
    from ..notify import Notifier
    from ..runner import Outputs, Runner

    config = resolve(args)
    if args.print_config:
        print(configs.to_toml(config), end="")
        return 0
    if args.snapshot is not None and not args.check:
        raise ConfigError("--snapshot goes with --check (edge-run --check --snapshot FILE.jpg)")
    if args.check:
        check(config, args.snapshot)
        return 0
    pipeline, camera, alerts, store, observers, policy = build(config, pin_factory)
    o = config.output
    outputs = Outputs(Path(o.detections) if o.detections else None, Path(o.snapshots) if o.snapshots else None,
                      policy)
    runner = Runner(camera, pipeline, store, alerts, Notifier(), outputs, policy=policy,
                    source_name=config.camera.source, stall_timeout=config.camera.stall_timeout,
                    summary_every=o.summary_every, observers=observers)
    previous = signal.signal(signal.SIGTERM, lambda *_: runner.stop("SIGTERM"))
    log.info("running: camera %s, detector %s, model %s (%s), policy %s, alerts %s, counts %s",
             config.camera.source, pipeline.detector.name, pipeline.classifier.shown_name,
             pipeline.classifier.artifact.backend, ", ".join(f"{k}={v}" for k, v in policy.severity.items()),
             describe_alerts(config.alerts), o.db)
    try:
        runner.run(args.max_frames, args.duration)
    finally:
        signal.signal(signal.SIGTERM, previous)
        print(runner.status())
    if store.lost:
        raise CountsError(f"{store.lost} count(s) of this run could not be written to {o.db} and are lost — "
                          "see the errors above")
    return 0


def main(argv=None, pin_factory=None) -> int:
    from . import run_main

    args = parser().parse_args(argv)
    return run_main("edge-run", lambda a: body(a, pin_factory), args)


if __name__ == "__main__":
    sys.exit(main())
