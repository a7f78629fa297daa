import pytest

from edge import config as configs
from edge import detectors
from edge.cli.run import parser, resolve
from edge.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "edge-run.toml"
    path.write_text(text)
    return path


def test_file_then_flags_override_in_that_order(tmp_path):
    path = write(tmp_path, '[camera]\nsource = "usb:1"\nwidth = 320\n[alerts]\nred_led = 27\n[model]\nthreads = 2\n')
    config = resolve(parser().parse_args(["--config", str(path), "--width", "800", "--green-led", "GPIO17"]))
    assert config.camera.source == "usb:1"  # from the file
    assert config.camera.width == 800  # the flag wins
    assert config.camera.height == 480  # the default stands
    assert (config.alerts.red_led, config.alerts.green_led, config.model.threads) == (27, "GPIO17", 2)


def test_printed_config_loads_back_to_the_same_config(tmp_path):
    config = resolve(parser().parse_args(["--camera", "clip.mp4", "--fps", "12", "--no-active-high",
                                          "--snapshots", "snaps"]))
    assert configs.load(write(tmp_path, configs.to_toml(config))) == config


@pytest.mark.parametrize(("text", "message"), [
    ("[camera]\nwidht = 640\n", "[camera]: unknown key 'widht' — did you mean 'width'?"),
    ("[camra]\nwidth = 640\n", "unknown key 'camra' — did you mean 'camera'?"),
    ('[camera]\nwidth = "640"\n', "[camera] width must be a whole number, not '640' — e.g. width = 640"),
    ("[alerts]\nactive_high = 1\n", "[alerts] active_high must be true or false"),
    ('[detector]\nname = "hog"\n', "[detector] name is 'hog'; choose one of auto, haar, maskwatch, ssd, yunet"),
    ("[tracker]\nmin_hits = 0\n", "[tracker] min_hits is 0; it must be between 1 and 100"),
    ("[camera]\nwidth = 640\nwidth = 480\n", "is not valid TOML"),
    ("camera = 3\n", "camera must be a table ([camera])"),
    ('[view]\nlisten = "70000"\n', "listen = '70000': the port must be from 0 to 65535"),
    ('[view]\nlisten = "http://pi:80"\n', "PORT or ADDRESS:PORT"),
    ("[view]\nfps = 0\n", "[view] fps is 0"),
])
def test_bad_files_are_refused_with_the_key_named(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        configs.load(write(tmp_path, text))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_numbers_widen_to_float_and_pins_take_names():
    config = configs.from_dict({"alerts": {"hold": 1, "buzzer": "BOARD12"}})
    assert config.alerts.hold == 1.0 and isinstance(config.alerts.hold, float)
    assert config.alerts.buzzer == "BOARD12"


def test_missing_file_and_bad_flag_value_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="not found — check --config"):
        configs.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="^--led-hold is -1.0; it must be between 0.0 and 3600.0$"):
        resolve(parser().parse_args(["--led-hold", "-1"]))


def test_every_option_has_a_distinct_flag_and_help():
    flags = [flag for _, flag, _ in configs.options()]
    assert len(flags) == len(set(flags))
    assert all(f.metadata["help"] for _, _, f in configs.options())


def test_the_fast_path_is_the_detectors_preset_unless_exact_or_set():
    speed = resolve(parser().parse_args([])).speed
    assert speed.preset == "auto"
    assert {k: speed.settings("yunet")[k] for k in ("detect_every", "motion_gate", "motion_regions")} == \
        detectors.preset("yunet") == {"detect_every": 3, "motion_gate": True, "motion_regions": True}
    assert (speed.settings("haar")["detect_every"], speed.settings("haar")["motion_gate"]) == (1, True)
    assert speed.settings("ssd")["detect_every"] == 1
    exact = resolve(parser().parse_args(["--exact"])).speed
    assert {k: exact.settings("yunet")[k] for k in ("detect_every", "motion_gate", "motion_regions")} == \
        {"detect_every": 1, "motion_gate": False, "motion_regions": False}
    mixed = resolve(parser().parse_args(["--detect-every", "2", "--no-motion-regions"])).speed
    assert (mixed.settings("yunet")["detect_every"], mixed.settings("yunet")["motion_regions"],
            mixed.settings("yunet")["motion_gate"]) == (2, False, True)
    printed = configs.to_toml(resolve(parser().parse_args([])))
    assert 'preset = "auto"' in printed and "# detect_every =" in printed


def test_view_listens_on_loopback_unless_an_address_is_given():
    def address(listen):
        return resolve(parser().parse_args(["--view", listen])).view.address()

    assert address("8080") == ("127.0.0.1", 8080)
    assert address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert address("[::1]:8080") == ("::1", 8080)
    assert address("doorway.local:0") == ("doorway.local", 0)
    assert resolve(parser().parse_args([])).view.address() is None  # off by default
    with pytest.raises(ConfigError, match="^--view is '8080:'"):
        address("8080:")
