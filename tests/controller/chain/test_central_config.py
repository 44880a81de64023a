"""``gymctl chain central-config``: the centre's configuration, refused when unsafe.

``test_bridge_security.py`` runs a central Mosquitto from this configuration over TLS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.chain.central_config import CentralSettings, central_config
from controller.cli import main
from kernels.errors import InvalidInputError

ACL = Path("/etc/gymctl-chain/acl")


def test_tls_and_accounts_give_a_confined_centre() -> None:
    config = central_config(
        CentralSettings(
            cert_file=Path("/c/server.pem"),
            key_file=Path("/c/server.key"),
            password_file=Path("/c/passwd"),
            readers=("hq", "analytics"),
        ),
        acl_path=ACL,
    )
    conf = config.conf.splitlines()
    assert "listener 8883 0.0.0.0" in conf
    assert "certfile /c/server.pem" in conf
    assert "allow_anonymous false" in conf
    assert "password_file /c/passwd" in conf
    assert f"acl_file {ACL}" in conf
    assert "persistence true" in conf
    assert not any(line.startswith("cafile") for line in conf)
    acl = config.acl.splitlines()
    for reader in ("hq", "analytics"):
        at = acl.index(f"user {reader}")
        assert acl[at + 1] == "topic read chain/#"
    assert "pattern readwrite chain/%u/#" in acl
    assert "topic readwrite chain/#" not in acl  # no anonymous writer


def test_client_certificates_and_a_loopback_centre_without_accounts() -> None:
    strict = central_config(
        CentralSettings(
            cert_file=Path("/c/s.pem"),
            key_file=Path("/c/s.key"),
            ca_file=Path("/c/ca.pem"),
            password_file=Path("/c/passwd"),
            port=9999,
        ),
        acl_path=ACL,
    )
    assert "listener 9999 0.0.0.0" in strict.conf
    assert "cafile /c/ca.pem\nrequire_certificate true" in strict.conf
    local = central_config(
        CentralSettings(bind_address="127.0.0.1", prefix="gyms/eu"), acl_path=ACL
    )
    assert "listener 1883 127.0.0.1" in local.conf
    assert "allow_anonymous true" in local.conf
    assert "topic readwrite gyms/eu/#" in local.acl.splitlines()
    assert "pattern readwrite gyms/eu/%u/#" in local.acl.splitlines()


@pytest.mark.parametrize(
    ("settings", "where", "words"),
    [
        (CentralSettings(password_file=Path("/p")), "--tls-cert", "in clear"),
        (
            CentralSettings(cert_file=Path("/c"), key_file=Path("/k")),
            "--password-file",
            "without accounts",
        ),
        (CentralSettings(cert_file=Path("/c")), "--tls-key", "both"),
        (CentralSettings(bind_address="127.0.0.1", ca_file=Path("/ca")), "--tls-ca", "TLS"),
        (CentralSettings(bind_address="127.0.0.1", prefix="a/#"), "--prefix", "'#'"),
        (CentralSettings(bind_address="127.0.0.1", prefix="a//b"), "--prefix", "empty"),
        (CentralSettings(bind_address="127.0.0.1", readers=()), "--reader", "at least one"),
        (CentralSettings(bind_address="127.0.0.1", readers=("a b",)), "--reader", "spaces"),
        (CentralSettings(bind_address="127.0.0.1", readers=("x/#",)), "--reader", "account"),
        (CentralSettings(bind_address="127.0.0.1", port=70000), "--port", "1..65535"),
        (CentralSettings(bind_address="127.0.0.1", session_expiry="3 d"), "--session", "spaces"),
    ],
)
def test_unsafe_or_broken_settings_are_refused(
    settings: CentralSettings, where: str, words: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        central_config(settings, acl_path=ACL)
    assert (refused.value.where or "").startswith(where)
    assert words in str(refused.value)


def test_the_command_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "central"
    argv = ["chain", "central-config", "-o", str(out), "--bind", "127.0.0.1"]
    argv += ["--persistence-dir", str(tmp_path / "state"), "--reader", "hq"]
    assert main(argv) == 0
    conf = (out / "mosquitto.conf").read_text()
    assert f"acl_file {out / 'acl'}" in conf
    assert f"persistence_location {tmp_path / 'state'}/" in conf
    assert "user hq" in (out / "acl").read_text()
    assert "mosquitto -c" in capsys.readouterr().err


def test_the_command_names_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chain", "central-config", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--tls-cert" in err
    assert "in clear" in err
    assert not (tmp_path / "mosquitto.conf").exists()
