"""What the alerts do, independent of the GPIO library that drives the pins.

They act on a person's severity (``edge.policy``: ok, warning, violation), not on labels. LEDs show
who is at the door: green while a compliant person is in view, red while someone counted with a
violation or a warning is. Each stays on for ``hold`` seconds after its person was last seen, so a
face lost for a frame or two does not make it flicker. The buzzer plays its pattern once per
violation counted, one short beep per warning, in the background; the relay (door release) is
pulsed once per compliant person counted while nobody with a violation or warning is in view.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Protocol

from ..policy import OK, VIOLATION, WARNING
from ..registry import Registry

if TYPE_CHECKING:  # the config reads this family's names from ALERTS: no import of it at run time
    from ..config import AlertsConfig

log = logging.getLogger(__name__)

# Every GPIO library's file registers how it makes one output (``@ALERTS.register("name")``):
# ``make(pin, active_high, pin_factory)``.
ALERTS = Registry("alert backend", "edge.alerts")
NONE = "none"


class Output(Protocol):
    """One digital output: what gpiozero's DigitalOutputDevice offers, and all that is used of it."""

    def on(self) -> None: ...

    def off(self) -> None: ...

    def blink(self, on_time: float, off_time: float, n: int) -> None:
        """Switch on and off ``n`` times without blocking the caller."""

    def close(self) -> None: ...


class Alerts(ABC):
    @abstractmethod
    def update(self, now: float, in_view: set[str], counted: list[str]) -> None:
        """One processed frame: the severities of the counted people in view, and of each person counted in it."""

    @abstractmethod
    def close(self) -> None:
        """Every output off and released; safe to call twice."""


@ALERTS.register(NONE, order=99)
class NullAlerts(Alerts):
    """No hardware: the runtime calls it exactly as it would call real outputs."""

    def update(self, now, in_view, counted) -> None:
        pass

    def close(self) -> None:
        pass


class _Latch:
    """On at once when triggered, off only ``hold`` seconds after the last trigger."""

    def __init__(self, output: Output | None, hold: float):
        self.output, self.hold = output, hold
        self.lit, self.last_seen = False, float("-inf")

    def update(self, now: float, seen: bool) -> None:
        if seen:
            self.last_seen = now
        lit = now - self.last_seen <= self.hold
        if self.output is not None and lit != self.lit:
            self.output.on() if lit else self.output.off()
        self.lit = lit


class PinAlerts(Alerts):
    def __init__(self, config: AlertsConfig, make_output):
        """``make_output(pin, active_high)`` opens one output; unset pins open nothing."""
        self.config = config
        self.outputs: dict[str, Output] = {}
        try:
            for name in ("green_led", "red_led", "buzzer", "relay"):
                pin = getattr(config, name)
                if pin is not None:
                    output = make_output(pin, config.relay_active_high if name == "relay" else config.active_high)
                    output.off()
                    self.outputs[name] = output
        except Exception:
            self.close()
            raise
        self.green = _Latch(self.outputs.get("green_led"), config.hold)
        self.red = _Latch(self.outputs.get("red_led"), config.hold)
        self._beeping_until = float("-inf")

    def update(self, now, in_view, counted) -> None:
        flagged = bool(in_view & {VIOLATION, WARNING})
        self.green.update(now, OK in in_view)
        self.red.update(now, flagged)
        c = self.config
        buzzer, relay = self.outputs.get("buzzer"), self.outputs.get("relay")
        if buzzer is not None and now >= self._beeping_until:
            # A pattern already playing is not restarted; a violation's pattern wins over a warning's beep.
            if VIOLATION in counted and c.beeps:
                buzzer.blink(c.beep_on, c.beep_off, c.beeps)
                self._beeping_until = now + c.beeps * (c.beep_on + c.beep_off)
            elif WARNING in counted and c.warning_beep:
                buzzer.blink(c.warning_beep, c.beep_off, 1)
                self._beeping_until = now + c.warning_beep + c.beep_off
        if relay is not None and not flagged and OK in counted:
            relay.blink(c.relay_seconds, 0.01, 1)

    def close(self) -> None:
        for name, output in list(self.outputs.items()):
            try:
                output.off()
                output.close()
            except Exception as exc:  # one stuck pin must not keep the others on
                log.error("could not switch off %s: %s", name, exc)
        self.outputs.clear()
