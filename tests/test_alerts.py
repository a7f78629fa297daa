import time

import pytest
from gpiozero.pins.mock import MockFactory

from edge.alerts import NullAlerts, PinAlerts, create_alerts
from edge.config import AlertsConfig
from edge.errors import ConfigError
from edge.policy import OK, VIOLATION, WARNING

PINS = {"green_led": 17, "red_led": 27, "buzzer": 22, "relay": 23}


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.close()


def make(factory, **settings):
    return create_alerts(AlertsConfig(**{**PINS, **settings}), factory)


def states(factory):
    return {name: factory.pin(pin).state for name, pin in PINS.items()}


def test_no_pins_or_gpio_none_gives_the_null_object(factory):
    assert isinstance(create_alerts(AlertsConfig(), factory), NullAlerts)
    assert isinstance(make(factory, backend="none"), NullAlerts)


def test_outputs_start_off_with_the_configured_polarity(factory):
    alerts = make(factory)
    assert isinstance(alerts, PinAlerts)
    # LEDs and buzzer active high: off is low; the relay is active low: off is high
    assert states(factory) == {"green_led": 0, "red_led": 0, "buzzer": 0, "relay": 1}
    alerts.close()


def test_leds_follow_who_is_in_view_with_hold_against_flicker(factory):
    alerts = make(factory, hold=2.0, relay=None)
    alerts.update(0.0, {OK}, [])
    assert factory.pin(17).state == 1 and factory.pin(27).state == 0
    alerts.update(1.0, set(), [])  # face lost for a moment: still on
    assert factory.pin(17).state == 1
    alerts.update(1.5, {OK}, [])
    alerts.update(3.4, set(), [])  # 1.9 s after the last sighting
    assert factory.pin(17).state == 1
    alerts.update(3.6, set(), [])
    assert factory.pin(17).state == 0
    # one off-on-off cycle, not a flicker per missed frame
    assert [s.state for s in factory.pin(17).states] == [0, 1, 0]
    alerts.close()


def test_buzzer_beeps_in_the_background_once_per_unmasked_person(factory):
    alerts = make(factory, beeps=2, beep_on=0.05, beep_off=0.05)
    alerts.update(0.0, {VIOLATION}, [VIOLATION])
    assert factory.pin(27).state == 1  # red on at once, the call did not block on the pattern
    alerts.update(0.05, {VIOLATION}, [VIOLATION])  # a second person while the pattern plays: not restarted
    time.sleep(0.4)
    assert [s.state for s in factory.pin(22).states] == [False, True, False, True, False]
    assert factory.pin(23).state == 1  # no door release for an unmasked person
    alerts.close()


def test_relay_pulses_for_a_compliant_entry_only_when_nobody_unmasked_is_there(factory):
    alerts = make(factory, relay_seconds=0.1)
    alerts.update(0.0, {OK, VIOLATION}, [OK])  # masked person counted next to an unmasked one
    assert [s.state for s in factory.pin(23).states] == [False, True]  # mock pins start low; off is high
    alerts.update(5.0, {OK}, [OK])
    time.sleep(0.3)
    assert [s.state for s in factory.pin(23).states] == [False, True, False, True]  # energised, released
    alerts.close()


def test_a_warning_lights_red_sounds_one_short_beep_and_keeps_the_door_shut(factory):
    alerts = make(factory, beeps=3, beep_on=0.2, beep_off=0.05, warning_beep=0.04, relay_seconds=0.1)
    alerts.update(0.0, {WARNING}, [WARNING])
    assert factory.pin(27).state == 1 and factory.pin(17).state == 0  # red, not green
    time.sleep(0.3)
    beeps = factory.pin(22).states
    assert [s.state for s in beeps] == [False, True, False]  # one beep, where a violation gives three
    assert beeps[2].timestamp - beeps[1].timestamp < 0.15  # and a short one
    alerts.update(1.0, {OK, WARNING}, [OK])  # a compliant person beside the one with the mask worn wrong
    time.sleep(0.2)
    assert [s.state for s in factory.pin(23).states] == [False, True]  # the relay never released
    alerts.update(10.0, {OK}, [OK])  # alone: the door opens
    time.sleep(0.3)
    assert [s.state for s in factory.pin(23).states] == [False, True, False, True]
    alerts.close()


def test_close_switches_everything_off_even_mid_pattern(factory):
    alerts = make(factory, beeps=100, relay_seconds=30)
    alerts.update(0.0, {OK, VIOLATION}, [VIOLATION])
    alerts.update(0.1, {OK}, [OK])
    alerts.close()
    assert states(factory) == {"green_led": 0, "red_led": 0, "buzzer": 0, "relay": 1}
    alerts.close()  # twice is harmless


def test_a_pin_that_cannot_be_an_output_is_one_clear_error(factory):
    with pytest.raises(ConfigError, match="GPIO pin 'NOPE' cannot be used as an output"):
        make(factory, red_led="NOPE")
    assert factory.pin(17).state == 0  # the green LED opened before it was released
