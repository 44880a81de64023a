from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import SiteConfig, load_config, parse_config
from controller.errors import ConfigError
from kernels.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[site]
name = "Test gym"
id = "test"

[[stations]]
id = "rack-1"
[stations.devices.rack]
host = "127.0.0.1"
map = "gymctl-rack-v1"

[[stations]]
id = "bike-1"
[stations.devices.bike]
address = "C0:FF:EE:00:00:01"
[stations.devices.hr_strap]
name = "strap"
"""


def test_the_example_config_validates() -> None:
    config = load_config(ROOT / "examples" / "site.toml")
    assert isinstance(config, SiteConfig)
    assert [s.id for s in config.stations] == ["rack-1", "rack-2", "bike-1", "band-1"]
    rack = config.station("rack-2").devices.rack
    assert rack is not None
    assert rack.transport == "rtu"
    assert config.mqtt.embedded
    assert config.mqtt.personal_data == []
    assert config.store_path == (ROOT / "examples" / "gymctl.db")


def test_defaults_and_device_ids() -> None:
    config = parse_config(MINIMAL)
    rack = config.station("rack-1")
    assert rack.device_id("rack") == "rack-1-rack"
    assert config.station("bike-1").device_id("hr_strap") == "bike-1-hr-strap"
    assert rack.safety.stale_after_ms is None
    assert config.mqtt.port == 1883
    assert config.panel.host == "127.0.0.1"


def replace(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 70000'),
            "cfg.toml: stations[0].devices.rack.port: must be 1..65535",
        ),
        (
            replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nport = "502"'),
            "cfg.toml: stations[0].devices.rack.port: must be an integer",
        ),
        (
            replace('host = "127.0.0.1"\n', ""),
            "cfg.toml: stations[0].devices.rack.host: is required for transport 'tcp'",
        ),
        (
            replace('address = "C0:FF:EE:00:00:01"', 'address = "nope"'),
            "cfg.toml: stations[1].devices.bike.address: must be a Bluetooth address",
        ),
        (
            replace('name = "strap"', ""),
            "cfg.toml: stations[1].devices.hr_strap.name: give the device's 'address'",
        ),
        (
            replace('id = "bike-1"', 'id = "rack-1"'),
            "cfg.toml: stations[1].id: duplicate station id 'rack-1' (also stations[0])",
        ),
        (
            replace('id = "test"', 'id = "Test Gym"'),
            "cfg.toml: site.id: must be 1-32 characters",
        ),
        (
            replace(
                "[stations.devices.hr_strap]",
                "[stations.devices.rack]\nmap = 'x'\nhost='h'\n[stations.devices.hr_strap]",
            ),
            "cfg.toml: stations[1].devices: a station drives one actuator",
        ),
        (
            MINIMAL + '\n[mqtt]\nport = 1883\npersonal_data = ["names"]\n',
            "cfg.toml: mqtt.personal_data[0]: must be one of 'pseudonymous_id', 'heart_rate'",
        ),
        (
            MINIMAL + "\n[mqtt]\npassword = 'secret'\n",
            "cfg.toml: mqtt.password: a password needs a 'username'",
        ),
        (
            MINIMAL + "\n[mqtt]\ntopic_prefix = 'gym/+'\n",
            "cfg.toml: mqtt.topic_prefix: must be topic levels",
        ),
        (
            MINIMAL + "\n[store]\ntrace_retention_days = 0\n",
            "cfg.toml: store.trace_retention_days: must be 1..3650",
        ),
        (
            MINIMAL + "\n[panel]\nport = 1883\n",
            "cfg.toml: mqtt.port: the embedded broker and the panel cannot both use port 1883",
        ),
        (MINIMAL + "\n[bogus]\n", "cfg.toml: bogus: unknown key"),
        (MINIMAL + "\n[site\n", "cfg.toml: not valid TOML"),
        (MINIMAL + "\nx = " + "[" * 5000, "cfg.toml: not valid TOML: nested too deeply"),
        (  # found by fuzzing: a name longer than the OS allows raised OSError
            replace('map = "gymctl-rack-v1"', 'map = "maps/' + "x" * 5000 + '.toml"'),
            "cfg.toml: stations[0].devices.rack.map: no such register map file",
        ),
        (
            replace('map = "gymctl-rack-v1"', 'map = "maps/a\\u0000b.toml"'),
            "cfg.toml: stations[0].devices.rack.map: no such register map file",
        ),
        (
            replace('map = "gymctl-rack-v1"', 'map = "maps/missing.toml"'),
            "cfg.toml: stations[0].devices.rack.map: no such register map file",
        ),
        (
            replace('id = "test"', 'id = "test"\nrealtime_priority = 100'),
            "cfg.toml: site.realtime_priority: must be 1..99",
        ),
        (
            MINIMAL + "\n[panel]\nown_process = 1\n",
            "cfg.toml: panel.own_process: must be",
        ),
    ],
)
def test_bad_configs_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="cfg.toml")
    assert str(info.value).startswith(message), str(info.value)
    assert isinstance(info.value, InvalidInputError)


def test_many_problems_are_counted_in_one_message() -> None:
    text = replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 0\nunit = 999')
    with pytest.raises(ConfigError, match=r"port: must be 1\.\.65535 \(and 1 more problem\)"):
        parse_config(text, source="cfg.toml")


def test_map_files_resolve_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "rack.toml").write_text("# map\n")
    cfg = tmp_path / "gym.toml"
    cfg.write_text(replace('map = "gymctl-rack-v1"', 'map = "maps/rack.toml"'))
    config = load_config(cfg)
    assert config.resolve("maps/rack.toml").is_file()


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml")
