"""``gymctl chain bridge-config`` and ``gymctl hq`` on the command line."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import httpx
import pytest

from controller.cli import main
from tests.controller.mqtt.conftest import MOSQUITTO, Mosquitto, free_port

ROOT = Path(__file__).resolve().parents[2]

SITE = """
[site]
name = "North"
id = "main"

[mqtt]
host = "127.0.0.1"
port = 18831

[chain]
name = "north"
central_host = "hq.example.org"
"""


def write(tmp_path: Path, text: str = SITE) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def test_bridge_config_prints_the_site_brokers_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chain", "bridge-config", "--config", str(write(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "listener 18831 127.0.0.1" in out
    assert "address hq.example.org:1883" in out
    assert "topic station/+/set out 1 gymctl/main/ chain/north/" in out


def test_central_on_the_command_line_and_an_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, SITE + 'username = "north"\npassword = "pw"\n')
    out = tmp_path / "mosquitto.conf"
    out.write_text("old")
    out.chmod(0o644)
    argv = ["chain", "bridge-config", "--config", str(config), "--central", "10.0.0.9:8883"]
    assert main([*argv, "-o", str(out)]) == 0
    text = out.read_text()
    assert "address 10.0.0.9:8883" in text
    assert "remote_password pw" in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the bridge's password
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--central", "hq:99999"], "--central: a port is 1..65535"),
        (["--central", "two words"], "--central: not a host name"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    config = write(tmp_path)
    assert main(["chain", "bridge-config", "--config", str(config), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_chain_section_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, SITE + "queue_limit = 5\n")
    assert main(["chain", "bridge-config", "--config", str(config)]) == 2
    assert "site.toml: chain.queue_limit: must be 1000..1e+07" in capsys.readouterr().err
    config = write(tmp_path, SITE.replace('central_host = "hq.example.org"\n', ""))
    assert main(["chain", "bridge-config", "--config", str(config)]) == 2
    assert "chain.central_host: no central broker" in capsys.readouterr().err


def test_hq_refuses_to_serve_openly_beyond_loopback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GYMCTL_HQ_TOKEN", raising=False)
    assert main(["hq", "--broker", "127.0.0.1:1", "--host", "0.0.0.0"]) == 2
    assert "--host: the chain view would be open" in capsys.readouterr().err
    short = tmp_path / "token"
    short.write_text("short\n")
    assert main(["hq", "--broker", "127.0.0.1:1", "--token-file", str(short)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert main(["hq", "--broker", "127.0.0.1:1", "--tls-ca", str(tmp_path / "no.pem")]) == 2
    assert "--tls-ca: no such file" in capsys.readouterr().err
    assert main(["hq", "--broker", "127.0.0.1:1", "--prefix", "chain/"]) == 2
    assert "--prefix: must be topic levels" in capsys.readouterr().err


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed")
    broker = Mosquitto(directory=tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.mosquitto
async def test_gymctl_hq_serves_the_chain_and_stops_on_sigint(
    tmp_path: Path, central: Mosquitto
) -> None:
    port = free_port()
    token = "a-token-of-the-cli-test-0123456789"
    log = (tmp_path / "stderr.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "hq",
        "--broker",
        f"127.0.0.1:{central.port}",
        "--port",
        str(port),
        cwd=ROOT,
        env={**os.environ, "GYMCTL_HQ_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert f"http://127.0.0.1:{port}".encode() in line
        assert b"token required" in line
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            data: dict[str, object] = {}

            async def connected() -> bool:
                answer = await client.get("/api/v1/chain", headers=headers)
                data.update(answer.json())
                return bool(answer.json()["central"]["connected"])

            async with asyncio.timeout(10):
                while not await connected():  # noqa: ASYNC110 - polling the HTTP API
                    await asyncio.sleep(0.1)
            assert data["sites"] == []
            async with aiomqtt.Client(central.host, central.port) as site:
                await site.publish("chain/west/bridge/state", b"1", qos=1, retain=True)
            async with asyncio.timeout(10):
                while not data["sites"]:
                    await connected()
                    await asyncio.sleep(0.1)
            sites = data["sites"]
            assert isinstance(sites, list)
            assert [(s["site"], s["status"]) for s in sites] == [("west", "online")]
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()
    assert code == 0, (tmp_path / "stderr.log").read_text()
