"""The site broker's configuration: what Mosquitto is told, and refusals naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.chain.bridge_config import Central, bridge_config, parse_central, site_name
from controller.chain.topics import EVENT_LEAVES
from controller.config import parse_config
from kernels.errors import InvalidInputError

SITE = """
[site]
name = "North"
id = "main"

[[stations]]
id = "rack-1"
[stations.devices.rack]
host = "127.0.0.1"
map = "gymctl-rack-v1"

[mqtt]
host = "127.0.0.1"
port = 18830
"""


def generate(extra: str = "", tmp: Path | None = None, **kwargs: object) -> str:
    parsed = parse_config(SITE + extra, source="gym.toml", base_dir=tmp)
    return bridge_config(parsed, source="gym.toml", **kwargs)  # type: ignore[arg-type]


def directives(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_the_bridge_remaps_the_site_tree_to_its_chain_name(tmp_path: Path) -> None:
    text = generate('[chain]\ncentral_host = "hq.example.org"\nname = "north"\n', tmp_path)
    lines = directives(text)
    assert "listener 18830 127.0.0.1" in lines
    assert "address hq.example.org:1883" in lines
    assert "connection gymctl-north" in lines
    assert "cleansession false" in lines
    assert "local_cleansession false" in lines
    assert "notification_topic chain/north/bridge/state" in lines
    assert "persistence true" in lines
    assert f"persistence_location {(tmp_path / 'mosquitto').resolve()}/" in lines
    topics = [line for line in lines if line.startswith("topic ")]
    assert "topic controller/status out 1 gymctl/main/ chain/north/" in topics
    assert "topic station/+/rep out 1 gymctl/main/ chain/north/" in topics
    assert len(topics) == 2 + len(EVENT_LEAVES)
    assert not any(" in " in t or " both " in t for t in topics)  # nothing comes in
    assert not any("telemetry" in t or "cmd" in t for t in topics)


def test_defaults_name_the_site_by_its_id_and_telemetry_is_opt_in() -> None:
    text = generate('[chain]\ncentral_host = "10.0.0.5"\ncentral_port = 1884\ntelemetry = true\n')
    lines = directives(text)
    assert "address 10.0.0.5:1884" in lines
    assert "notification_topic chain/main/bridge/state" in lines
    assert "topic station/+/telemetry out 0 gymctl/main/ chain/main/" in lines


def test_central_on_the_command_line_overrides_the_config() -> None:
    text = generate('[chain]\ncentral_host = "old"\n', central=Central("::1", 2883))
    assert "address [::1]:2883" in directives(text)


def test_credentials_and_tls_to_the_centre(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    extra = (
        '[chain]\ncentral_host = "hq.example.org"\ncentral_port = 8883\n'
        'username = "north"\npassword = "s3cret"\n[chain.tls]\nca_file = "ca.pem"\n'
    )
    lines = directives(generate(extra, tmp_path))
    assert "remote_username north" in lines
    assert "remote_password s3cret" in lines
    assert f"bridge_cafile {(tmp_path / 'ca.pem').resolve()}" in lines


def test_a_password_in_clear_over_the_network_is_flagged() -> None:
    text = generate('[chain]\ncentral_host = "hq.example.org"\nusername = "n"\npassword = "p"\n')
    assert "# WARNING: the bridge's password crosses the network in clear" in text


def test_site_accounts_when_the_controller_logs_in(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("")
    site = SITE.replace("port = 18830", 'port = 18830\nusername = "ctl"\npassword = "pw"')
    parsed = parse_config(site, source="gym.toml", base_dir=tmp_path)
    with pytest.raises(InvalidInputError, match=r"gym.toml: chain.password_file: .*mqtt.username"):
        bridge_config(parsed, central=Central("h", 1), source="gym.toml")
    parsed = parse_config(
        site + '[chain]\npassword_file = "passwd"\n', source="gym.toml", base_dir=tmp_path
    )
    lines = directives(bridge_config(parsed, central=Central("h", 1)))
    assert "allow_anonymous false" in lines
    assert f"password_file {(tmp_path / 'passwd').resolve()}" in lines


@pytest.mark.parametrize(
    ("extra", "where", "problem"),
    [
        ("", "chain.central_host", "no central broker"),
        (
            '[chain]\nbind_address = "0.0.0.0"\ncentral_host = "h"\n',
            "chain.password_file",
            "without accounts",
        ),
        ('[chain]\ncentral_host = "h"\nusername = "a b"\n', "chain.username", "spaces"),
        (
            '[chain]\ncentral_host = "h"\nusername = "a"\npassword = "x\\ny"\n',
            "chain.password",
            "control",
        ),
        ('[chain]\ncentral_host = "bad host"\n', "chain.central_host", "not a host"),
    ],
)
def test_refusals_name_the_key(extra: str, where: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=f"gym.toml: {where}: .*{problem}"):
        generate(extra)


def test_the_listener_must_serve_the_address_the_controller_uses(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text("")
    site = SITE.replace('host = "127.0.0.1"\nport', 'host = "10.0.0.2"\nport')
    parsed = parse_config(site + '[chain]\ncentral_host = "h"\n', source="gym.toml")
    with pytest.raises(InvalidInputError, match=r"gym\.toml: chain\.bind_address: .*10\.0\.0\.2"):
        bridge_config(parsed, source="gym.toml")
    extra = (
        '[chain]\ncentral_host = "h:1884"\nbind_address = "10.0.0.2"\npassword_file = "passwd"\n'
    )
    parsed = parse_config(site + extra, source="gym.toml", base_dir=tmp_path)
    lines = directives(bridge_config(parsed))
    assert "listener 18830 10.0.0.2" in lines
    assert "address h:1884" in lines  # a port in central_host wins over central_port


def test_an_embedded_broker_site_is_told_to_run_mosquitto() -> None:
    site = SITE.replace('host = "127.0.0.1"\nport = 18830', "port = 18830")
    parsed = parse_config(site + '[chain]\ncentral_host = "h"\n', source="gym.toml")
    with pytest.raises(
        InvalidInputError, match=r"gym\.toml: mqtt\.host: the site uses the embedded"
    ):
        bridge_config(parsed, source="gym.toml")


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ('[chain]\nprefix = "a/#"\n', "chain.prefix"),
        ('[chain]\nname = "North Side"\n', "chain.name"),
        ('[chain]\npassword = "p"\n', "chain.password"),
        ("[chain]\nrestart_min_s = 10\nrestart_max_s = 5\n", "chain.restart_max_s"),
        ('[chain]\nacl_file = "nope.acl"\n', "chain.acl_file"),
        ("[chain]\nqueue_limit = 10\n", "chain.queue_limit"),
        ('[chain]\ncentral = "h"\n', "chain.central"),
    ],
)
def test_the_chain_section_is_validated_like_the_rest(section: str, where: str) -> None:
    from controller.errors import ConfigError

    with pytest.raises(ConfigError, match=f"gym.toml: {where}: "):
        parse_config(SITE + section, source="gym.toml")


def test_site_name_defaults_to_the_site_id() -> None:
    assert site_name(parse_config(SITE)) == "main"
    assert site_name(parse_config(SITE + '[chain]\nname = "n-1"\n')) == "n-1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hq", Central("hq", 1883)),
        ("hq.example.org:8883", Central("hq.example.org", 8883)),
        ("10.1.2.3:1884", Central("10.1.2.3", 1884)),
        ("[::1]:2000", Central("::1", 2000)),
        ("[fe80::1]", Central("fe80::1", 1883)),
    ],
)
def test_central_addresses(text: str, expected: Central) -> None:
    assert parse_central(text) == expected


@pytest.mark.parametrize(
    "text", ["", ":1883", "hq:0", "hq:70000", "hq:x", "[::1", "[::1]x", "a b:1"]
)
def test_bad_central_addresses(text: str) -> None:
    with pytest.raises(InvalidInputError, match="--central"):
        parse_central(text)


@given(st.text(max_size=40))
def test_parse_central_is_total(text: str) -> None:
    try:
        central = parse_central(text)
    except InvalidInputError:
        return
    assert 1 <= central.port <= 65535
    assert central.host
    assert not any(c.isspace() for c in central.host)


DOCS = Path(__file__).resolve().parents[3] / "docs" / "chain.md"


def test_the_documented_chain_section_validates_and_generates(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "chain-ca.pem").write_text("x")
    parsed = parse_config('[site]\nname = "R"\nid = "main"\n' + block, base_dir=tmp_path)
    lines = directives(bridge_config(parsed))
    assert "address hq.example.org:8883" in lines
    assert "notification_topic chain/riverside/bridge/state" in lines
    assert f"bridge_cafile {(tmp_path / 'certs' / 'chain-ca.pem').resolve()}" in lines


_VALUE = st.text(max_size=20)


@settings(max_examples=200)
@given(username=_VALUE, password=_VALUE, host=_VALUE)
def test_no_value_can_inject_a_directive(username: str, password: str, host: str) -> None:
    """Hostile values are refused or stay one token on their own line."""
    baseline = generate('[chain]\ncentral_host = "h"\nusername = "u"\npassword = "p"\n')
    extra = (
        f"[chain]\ncentral_host = {json.dumps(host, ensure_ascii=False)}\n"
        f"username = {json.dumps(username, ensure_ascii=False)}\n"
        f"password = {json.dumps(password, ensure_ascii=False)}\n"
    )
    try:
        text = generate(extra)
    except InvalidInputError:
        return
    assert len(directives(text)) == len(directives(baseline))
    assert f"remote_username {username}" in text.splitlines()
    assert f"remote_password {password}" in text.splitlines()
