"""Prometheus metrics (``[metrics] listen``, off by default), served by prometheus_client.

People counted are read from the counts store, so the endpoint always agrees with the database;
the rest is what the frame loop hands over each frame.
"""

import logging

from .errors import BackendUnavailableError, ConfigError, os_reason

log = logging.getLogger("edge-run")

STAGES = ("detect", "classify")  # the stages with a latency histogram
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # s: a Pi's detector runs 10-100 ms


class _FromTheRuntime:
    """Figures the runtime already keeps, read at each scrape."""

    def __init__(self, store, camera, publisher):
        self.store, self.camera, self.publisher = store, camera, publisher

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        people = CounterMetricFamily("maskwatch_people_counted", "people counted, by label (all in the database)",
                                     labels=["label"])
        for label, n in sorted(self.store.totals().items()):
            people.add_metric([label], n)
        yield people
        yield CounterMetricFamily("maskwatch_camera_reconnects", "times the camera was lost and opened again",
                                  value=self.camera.reconnects)
        yield CounterMetricFamily("maskwatch_db_write_failures", "failed attempts to write counts to the database",
                                  value=self.store.write_failures)
        yield GaugeMetricFamily("maskwatch_events_waiting", "counted people the MQTT broker has not acknowledged",
                                value=self.publisher.waiting if self.publisher is not None else 0)


class Metrics:
    def __init__(self, address: tuple[str, int], store, camera, publisher):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

        registry = CollectorRegistry()
        self.frames = Counter("maskwatch_frames", "frames processed", registry=registry)
        self.fps = Gauge("maskwatch_fps", "frames per second since the start", registry=registry)
        self.stages = Histogram("maskwatch_stage_seconds", "time per frame in a stage", ["stage"], buckets=BUCKETS,
                                registry=registry)
        registry.register(_FromTheRuntime(store, camera, publisher))
        host, port = address
        try:
            self.server, self._thread = start_http_server(port, host, registry=registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve the metrics on {host}:{port} ({os_reason(exc)}) — give --metrics a "
                              "free port from 1024 up, or an address of this machine") from None
        log.info("Prometheus metrics at http://%s:%d/metrics", host, self.server.server_port)

    @property
    def port(self) -> int:
        return self.server.server_port

    def frame(self, index: int, image, result, fps: float, stages_ms: dict[str, float]) -> None:
        self.frames.inc()
        self.fps.set(fps)
        for stage in STAGES:
            if stage in stages_ms:  # a frame the fast path did not classify has no classify stage
                self.stages.labels(stage).observe(stages_ms[stage] / 1000.0)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def open_metrics(config, store, camera, publisher):
    address = config.address()
    if address is None:
        return None
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise BackendUnavailableError("metrics need prometheus-client — pip install prometheus-client "
                                      "(requirements-edge.txt has it), or leave [metrics] listen unset") from None
    return Metrics(address, store, camera, publisher)
