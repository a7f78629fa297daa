"""Alert outputs (LEDs, buzzer, door relay), one file per GPIO library, registered by name (``ALERTS``).

``none``, or no pin in the config, gives :class:`NullAlerts`: the runtime behaves the same
with no hardware attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import ALERTS, NONE, Alerts, NullAlerts, PinAlerts

if TYPE_CHECKING:
    from ..config import AlertsConfig

__all__ = ["ALERTS", "Alerts", "NullAlerts", "PinAlerts", "create_alerts"]


def create_alerts(config: AlertsConfig, pin_factory=None) -> Alerts:
    """The outputs ``config`` names; ``pin_factory`` is handed to the GPIO library (tests pass gpiozero's
    MockFactory)."""
    pins = (config.green_led, config.red_led, config.buzzer, config.relay)
    if config.backend == NONE or all(pin is None for pin in pins):
        return NullAlerts()
    make = ALERTS.get(config.backend)
    return PinAlerts(config, lambda pin, active_high: make(pin, active_high, pin_factory))
