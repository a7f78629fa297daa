"""A config turned into a running doorway: the one place that builds the runtime's parts.

``load_models`` gives the classifier and the detector a config names; ``open_runtime`` the whole of it
(counts database, observers, camera, alerts, pipeline and the runner that drives them); ``check`` opens
each once, as ``edge-run --check`` does. The CLIs parse and print; train/, export/ and the benchmarks
build what they measure here too, so they run what the device runs.
"""

import dataclasses
import logging
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

from . import config as configs
from . import policy as policies
from .errors import CameraError, ConfigError
from .paths import DEFAULT_MODEL, detector_dir

log = logging.getLogger("edge-run")


@dataclass
class Models:
    classifier: object
    detector: object


def load_models(config: configs.RunConfig) -> Models:
    """The classifier (its self-test run) and the face detector the config names."""
    from .classifiers import load_classifier
    from .detectors import create_detector

    classifier = load_classifier(config.model.path or DEFAULT_MODEL, config.model.backend, config.model.threads)
    d = config.detector
    return Models(classifier, create_detector(d.name, d.model_dir or detector_dir(), d.max_side, d.min_score,
                                              d.threads, d.runtime))


def pipeline_for(config: configs.RunConfig, models: Models, exact: bool = False):
    """The pipeline of a config: its tracker and (unless ``exact``: every frame, whole frames) its fast path."""
    from .pipeline import Pipeline

    speed = {} if exact else config.speed.settings(models.detector.name)
    return Pipeline(models.detector, models.classifier, door=door_for(config, models),
                    **dataclasses.asdict(config.tracker), **speed)


def door_for(config: configs.RunConfig, models: Models):
    """The config's door; its face size, unset, the size the model was measured accurate from (else the size from
    which the tracker judges a mask)."""
    from .door import Door
    from .view.status import accurate_from

    d = config.door
    count_px = d.count_px
    if count_px is None:
        count_px = accurate_from(models.classifier.artifact.metrics) or config.tracker.judge_px
    return Door(None if d.region is None else tuple(map(tuple, d.region)), float(count_px), d.count)


@dataclass
class Runtime:
    """Everything a run holds open; ``runner`` drives the others and closes them at its end."""

    config: configs.RunConfig
    models: Models
    policy: policies.Policy
    pipeline: object
    camera: object
    store: object
    alerts: object
    observers: list
    runner: object


def open_runtime(config: configs.RunConfig, pin_factory=None, notifier=None) -> Runtime:
    """The runtime's parts, in the order a failure is cheapest to report: model, detector, counts DB,
    live view, MQTT, camera, metrics, pins; what was opened is closed again when a later part fails.
    The observers (view, MQTT, metrics) are the ones configured, in that order."""
    from .alerts import create_alerts
    from .clock import SystemClock
    from .counts import CountStore
    from .mqtt import open_publisher
    from .notify import Notifier
    from .prometheus import open_metrics
    from .runner import Outputs, Runner

    c, o = config.camera, config.output
    notifier = notifier or Notifier()
    outputs = Outputs(Path(o.detections) if o.detections else None, Path(o.snapshots) if o.snapshots else None)
    outputs.check()
    models = load_models(config)
    classifier = models.classifier
    policy = policies.resolve(classifier.manifest, config.policy.overrides())
    outputs.policy = policy
    labels = policies.countable(classifier.manifest.labels)
    with ExitStack() as opened:
        store = opened.enter_context(closing(CountStore(o.db, outbox=config.mqtt.host is not None,
                                                        wall=SystemClock(o.clock))))
        view = _open_view(config, models, policy, labels)
        publisher = open_publisher(config.mqtt, o.db, policy, labels,
                                   f"{classifier.manifest.name}@{classifier.artifact.sha256[:12]}")
        observers = [x for x in (view, publisher) if x is not None]
        if view is not None:
            view.wall = store.wall
            if publisher is not None:
                view.links["mqtt"] = publisher.link
        for observer in observers:
            opened.callback(observer.close)
        camera = opened.enter_context(_open_camera(c, notifier))
        metrics = open_metrics(config.metrics, store, camera, publisher)
        if metrics is not None:
            observers.append(metrics)
            opened.callback(metrics.close)
        alerts = create_alerts(config.alerts, pin_factory)
        opened.pop_all()
    pipeline = pipeline_for(config, models)
    runner = Runner(camera, pipeline, store, alerts, notifier, outputs, policy=policy,
                    source_name=c.source, stall_timeout=c.stall_timeout, summary_every=o.summary_every,
                    observers=observers)
    return Runtime(config, models, policy, pipeline, camera, store, alerts, observers, runner)


CAMERA_WAIT = (1.0, 60.0)  # s: the first and the longest pause between tries while a camera is not there yet


def _open_camera(c: configs.CameraConfig, notifier):
    """The camera. Under the service manager (``notifier`` enabled) a camera that is not there yet (an RTSP
    camera that boots after the device, a USB camera plugged in late) is waited for, as a camera lost
    mid-run is: tried again with growing pauses, said in the log, the service reported started and its
    watchdog fed, so systemd neither times the start out nor gives up after a burst of restarts. On a
    terminal its one-line error stands."""
    from .cameras import open_camera

    pause, status = CAMERA_WAIT[0], f"waiting for camera {c.source}"
    while True:
        try:
            return open_camera(c.source, c.width, c.height, c.fps)
        except CameraError as exc:
            if not notifier.enabled:
                raise
            log.warning("%s (%s); trying again in %.0f s", status, exc, pause)
            notifier.ready(status)
            until = time.monotonic() + pause
            while (left := until - time.monotonic()) > 0:
                notifier.alive(lambda: status)
                time.sleep(min(left, notifier.watchdog_interval))
            pause = min(pause * 2, CAMERA_WAIT[1])


def _open_view(config: configs.RunConfig, models: Models, policy, labels: list[str]):
    from .view import open_view
    from .view.status import accurate_from

    classifier = models.classifier
    info = {"source": config.camera.source, "detector": models.detector.name, "model": classifier.shown_name,
            "backend": classifier.artifact.backend, "policy": policy.severity}
    return open_view(config.view, info, config.output.db, policy, labels,
                     accurate_from(classifier.artifact.metrics), door_for(config, models))


def describe(runtime: Runtime) -> str:
    """What a run uses, for its first log line."""
    config, pipeline = runtime.config, runtime.pipeline
    return (f"camera {config.camera.source}, detector {pipeline.detector.name} ({pipeline.detector.runtime}), model "
            f"{pipeline.classifier.shown_name} ({pipeline.classifier.artifact.backend}), policy "
            f"{', '.join(f'{k}={v}' for k, v in runtime.policy.severity.items())}, alerts "
            f"{describe_alerts(config.alerts)}, counts {config.output.db}")


def check(config: configs.RunConfig, snapshot: Path | None = None) -> list[str]:
    """What a run would open, opened once: model (and its self-test), detector, pins, counts DB, one frame.
    Returns what to tell a person; raises the error of the first part that does not work."""
    from .alerts import create_alerts
    from .cameras import open_camera
    from .counts import CountStore

    if snapshot is not None and not snapshot.parent.is_dir():
        raise ConfigError(f"cannot write the snapshot: {snapshot.parent} is not an existing folder")
    models = load_models(config)
    classifier, detector = models.classifier, models.detector
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
    said = [f"check ok: {c.source} gives {width}x{height} frames; model {classifier.shown_name} "
            f"({classifier.artifact.backend}, self-test {'passed' if classifier.manifest.selftest else 'missing'}); "
            f"detector {detector.name}; counts {db} writable; alerts {describe_alerts(config.alerts)}"
            + "".join(f"; {part}" for part in _check_services(config, models))]
    if snapshot is not None:
        said.append(f"snapshot {snapshot}: {write_snapshot(snapshot, frame.image, config, models)}")
    return said


def _check_services(config: configs.RunConfig, models: Models) -> list[str]:
    """The live view's and the metrics' ports bound and let go, the broker connected to and left: each one
    configured, what a run would do with it, or its one-line error."""
    from .mqtt import probe
    from .prometheus import open_metrics

    said = []
    policy = policies.resolve(models.classifier.manifest, config.policy.overrides())
    view = _open_view(config, models, policy, policies.countable(models.classifier.manifest.labels))
    if view is not None:
        said.append(f"live view {view.url} can be served")
        view.close()
    metrics = open_metrics(config.metrics, None, None, None)
    if metrics is not None:
        said.append(f"metrics port {metrics.port} can be served")
        metrics.close()
    if config.mqtt.host is not None:
        said.append(probe(config.mqtt))
    return said


def write_snapshot(path: Path, image, config: configs.RunConfig, models: Models) -> str:
    """One frame through the whole chain, annotated as the live view draws it, into ``path``; counts
    nothing. Returns what a person needs to know: the faces found and whether they are big enough."""
    import cv2

    from .snapshots import annotate
    from .view.status import accurate_from, aim

    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the snapshot: {path.parent} is not an existing folder")
    classifier = models.classifier
    policy = policies.resolve(classifier.manifest, config.policy.overrides())
    result = pipeline_for(config, models, exact=True).process(image, independent=True)
    try:
        written = cv2.imwrite(str(path), annotate(image, result, policy, door_for(config, models)))
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
