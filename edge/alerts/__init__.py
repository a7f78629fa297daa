"""Alert outputs (LEDs, buzzer, door relay), one file per GPIO library, chosen by name.

``none``, or no pin in the config, gives :class:`NullAlerts`: the runtime behaves the same
with no hardware attached.
"""

from ..config import AlertsConfig
from .base import Alerts, NullAlerts, PinAlerts

__all__ = ["Alerts", "NullAlerts", "PinAlerts", "create_alerts"]


def create_alerts(config: AlertsConfig, pin_factory=None) -> Alerts:
    """The outputs ``config`` names; ``pin_factory`` is handed to gpiozero (tests pass a MockFactory)."""
    pins = (config.green_led, config.red_led, config.buzzer, config.relay)
    if config.backend == "none" or all(pin is None for pin in pins):
        return NullAlerts()
    if config.backend == "jetson":
        from .jetson import JetsonOutput

        return PinAlerts(config, JetsonOutput)
    from .gpiozero import gpiozero_output

    return PinAlerts(config, lambda pin, active_high: gpiozero_output(pin, active_high, pin_factory))
