"""The frame loop: camera → pipeline → alerts, counts, outputs, watchdog.

Everything it drives is built elsewhere and handed in, so tests run the real loop over
real files, gpiozero's mock pins and a real notify socket.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CameraError, ConfigError, os_reason
from .pipeline import Laps
from .policy import NOT_PEOPLE, Policy, compliance_text, counts_words

log = logging.getLogger("edge-run")


def summary(session: dict[str, int], policy: Policy, fps: float, totals: dict[str, int] | None = None,
            db: str = "the database") -> str:
    """This run's counts and compliance, and, when given, what the database holds in all."""
    line = f"{counts_words(session)} compliance={compliance_text(session, policy)} fps={fps:.1f}"
    if totals is None:
        return line
    return f"{line} (this run; {db} holds {counts_words(totals)} in all)"


def update_alerts(alerts, now: float, result, policy: Policy) -> None:
    """Tell the alerts the severities of who is in view and of who was counted in this frame."""
    alerts.update(now, {policy.of(label) for label in result.people_in_view()},
                  [policy.of(person.label) for person in result.people])


def record(store, people) -> None:
    """Store the people the pipeline counted (and those it recorded as no person of the door), one row each, and
    log them."""
    for person in people:
        store.add(person.label, person.confidence, person.frames)
        if person.label in NOT_PEOPLE:
            log.info("track %d: %s, no person of this door", person.track.id, person.label)
        else:
            log.info("counted track %d: %s (%.2f)", person.track.id, person.label, person.confidence)


@dataclass
class Outputs:
    """Optional per-frame outputs; both off unless configured."""

    detections: Path | None = None
    snapshots: Path | None = None
    policy: Policy | None = None
    _file: object = field(default=None, repr=False)

    def check(self) -> None:
        """Refuse outputs in folders that do not exist: a mistyped path is an error, not a new folder tree. A run
        checks this before it loads anything, so the mistake is said at once, not after the run."""
        for path in (self.detections, self.snapshots):
            if path is not None and not path.parent.is_dir():
                raise ConfigError(f"cannot write the outputs: {path.parent} is not an existing folder — give "
                                  "--detections and --snapshots paths in a writable folder")

    def open(self) -> None:
        self.check()
        try:
            if self.detections is not None:
                self._file = open(self.detections, "w")  # noqa: SIM115 - closed in close()
            if self.snapshots is not None:
                self.snapshots.mkdir(exist_ok=True)
        except OSError as exc:
            self.close()
            raise ConfigError(f"cannot write the outputs ({os_reason(exc)}) — give --detections and --snapshots "
                              "paths in a writable folder") from exc

    def write(self, index: int, frame, result) -> None:
        if self._file is not None:
            self._file.write(json.dumps({"frame": index, "source": frame.source,
                                         "faces": [f.as_json() for f in result.faces]}) + "\n")
        if self.snapshots is not None and result.people:
            from .snapshots import save_snapshot

            save_snapshot(self.snapshots, frame.image, result, self.policy)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Runner:
    def __init__(self, camera, pipeline, store, alerts, notifier, outputs: Outputs, *, policy: Policy,
                 source_name: str, stall_timeout: float, summary_every: float, observers=(),
                 clock=time.monotonic):
        """``observers``: the live view, the MQTT publisher, the metrics; each is handed every frame
        (``frame(index, image, result, fps, stages_ms)``, which must not make the loop wait) and
        closed at the end, once the counts are written."""
        self.camera, self.pipeline, self.store, self.alerts = camera, pipeline, store, alerts
        self.notifier, self.outputs, self.observers = notifier, outputs, list(observers)
        self.source_name, self.stall_timeout, self.summary_every = source_name, stall_timeout, summary_every
        self.clock = clock
        self.policy = policy
        self.frames = 0
        self.stop_reason: str | None = None
        self._started = clock()
        self._clock_trusted: bool | None = None  # the wall clock's trust as last said

    def check_wall_clock(self) -> None:
        """Say when the wall clock is not synchronised, and when it becomes so put right this boot's counts
        stamped before (a restarted edge-run finds those of its earlier runs too). Cheap on every frame: the
        clock's trust is asked of the kernel every few seconds at most, and once trusted never again."""
        trusted = self.store.wall.trusted()
        if trusted == self._clock_trusted:
            return
        if not trusted:
            log.warning("the system clock is not synchronised (no time service has set it yet: a Pi has no "
                        "real-time clock) — counts are marked so and moved to their true time once it is; "
                        "check the network and NTP (timedatectl), or [output] clock = \"trusted\" if the clock "
                        "is set otherwise")
        else:
            moved, by = self.store.correct()
            if moved:
                log.info("the system clock is synchronised: %d count(s) stamped before it were moved by %+.0f s "
                         "to their true time", moved, by)
            elif self._clock_trusted is False:
                log.info("the system clock is synchronised")
        self._clock_trusted = trusted

    def status(self) -> str:
        return summary(self.store.session(), self.policy, self.fps, self.store.totals(), self.store.path.name)

    @property
    def fps(self) -> float:
        return self.frames / max(self.clock() - self._started, 1e-9)

    def stop(self, reason: str) -> None:
        """Ask the loop to end after the current frame (signal handlers call this)."""
        self.stop_reason = reason

    def run(self, max_frames: int | None = None, duration: float | None = None) -> None:
        """Process frames until the source ends, a limit is reached or stop() is called."""
        self._started = last_frame = last_summary = self.clock()
        try:
            self.outputs.open()
            self.check_wall_clock()
            self.notifier.ready(self.status())
            while self.stop_reason is None:
                if max_frames is not None and self.frames >= max_frames:
                    break
                # At least one frame: a duration shorter than the first frame is not "nothing to do".
                if duration is not None and self.frames and self.clock() - self._started >= duration:
                    break
                frame = self.camera.read()
                if frame is None:  # a file or folder has ended
                    if self.frames == 0:
                        raise self.camera.nothing_read(self.source_name)
                    break
                now = self.clock()
                if frame.image is None:
                    if now - last_frame > self.stall_timeout:
                        raise CameraError(f"no frame from {self.source_name} for {self.stall_timeout:.0f} s — "
                                          "check the camera; the service manager will restart edge-run")
                    # No WATCHDOG here: a stalled camera must let systemd's watchdog fire.
                    self.alerts.update(now, set(), [])
                    continue
                last_frame = now
                laps = Laps()
                result = self.pipeline.process(frame.image, frame.independent, lap=laps)
                record(self.store, result.counted)
                update_alerts(self.alerts, now, result, self.policy)
                self.outputs.write(self.frames, frame, result)
                for observer in self.observers:
                    observer.frame(self.frames, frame.image, result, self.fps, laps.ms)
                self.store.flush()  # retries a DB that was unwritable; the store throttles the attempts
                self.check_wall_clock()
                self.frames += 1
                self.notifier.alive(self.status)
                if now - last_summary >= self.summary_every:
                    log.info(self.status())
                    last_summary = now
        except KeyboardInterrupt:
            self.stop_reason = "SIGINT"
        finally:
            if self.camera.skipped:
                log.warning("%d frame(s) of %s could not be decoded and were skipped", self.camera.skipped,
                            self.source_name)
            self.notifier.stopping(f"stopping ({self.stop_reason or 'done'})")
            record(self.store, self.pipeline.finish())  # the people in view with the evidence are counted, not lost
            self.store.flush(force=True)  # the publisher sends what is in the database
            for observer in self.observers:
                observer.close()
            self.alerts.close()
            self.camera.close()
            self.outputs.close()
            self.store.close()
