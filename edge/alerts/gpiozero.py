"""Outputs through gpiozero (Raspberry Pi: lgpio, RPi.GPIO or pigpio, whichever it finds)."""

from ..errors import BackendUnavailableError, ConfigError
from .base import ALERTS


@ALERTS.register("gpiozero", order=0)  # the default: a Raspberry Pi
def gpiozero_output(pin, active_high: bool, pin_factory=None):
    try:
        from gpiozero import DigitalOutputDevice
        from gpiozero.exc import GPIOZeroError
    except ImportError as exc:
        raise BackendUnavailableError("gpiozero is not installed — pip install gpiozero, "
                                      "or run with --gpio none") from exc
    try:
        return DigitalOutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
    except GPIOZeroError as exc:
        raise ConfigError(f"GPIO pin {pin!r} cannot be used as an output ({exc}) — check the [alerts] "
                          "pins, or run with --gpio none") from exc
