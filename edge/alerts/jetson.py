"""Outputs through NVIDIA's Jetson.GPIO (board pin numbers, as printed on the 40-pin header).

gpiozero has no Jetson pin factory, so this backend gives Jetson.GPIO the same small
interface (on, off, a background blink, close).
"""

import threading

from ..errors import BackendUnavailableError
from .base import ALERTS


@ALERTS.register("jetson")
def jetson_output(pin, active_high: bool, pin_factory=None) -> "JetsonOutput":
    """Jetson.GPIO has no pin factories: ``pin_factory`` is gpiozero's alone."""
    return JetsonOutput(pin, active_high)


class JetsonOutput:
    def __init__(self, pin: int, active_high: bool):
        try:
            import Jetson.GPIO as GPIO
        except ImportError as exc:
            raise BackendUnavailableError("Jetson.GPIO is not installed — pip install Jetson.GPIO "
                                          "(JetPack ships it), or run with --gpio none") from exc
        self._gpio, self.pin, self.active_high = GPIO, int(pin), active_high
        if GPIO.getmode() is None:
            GPIO.setmode(GPIO.BOARD)
        GPIO.setup(self.pin, GPIO.OUT, initial=self._level(False))
        self._stop_blink = threading.Event()
        self._blinker: threading.Thread | None = None

    def _level(self, on: bool):
        return self._gpio.HIGH if on == self.active_high else self._gpio.LOW

    def _write(self, on: bool) -> None:
        self._gpio.output(self.pin, self._level(on))

    def _cancel_blink(self) -> None:
        if self._blinker is not None:
            self._stop_blink.set()
            self._blinker.join()
            self._blinker = None

    def on(self) -> None:
        self._cancel_blink()
        self._write(True)

    def off(self) -> None:
        self._cancel_blink()
        self._write(False)

    def blink(self, on_time: float, off_time: float, n: int) -> None:
        self._cancel_blink()
        self._stop_blink.clear()

        def run():
            for _ in range(n):
                self._write(True)
                if self._stop_blink.wait(on_time):
                    break
                self._write(False)
                if self._stop_blink.wait(off_time):
                    break
            self._write(False)

        self._blinker = threading.Thread(target=run, name=f"blink-{self.pin}", daemon=True)
        self._blinker.start()

    def close(self) -> None:
        self.off()
        self._gpio.cleanup(self.pin)
