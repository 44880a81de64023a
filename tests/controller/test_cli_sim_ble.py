"""``gymctl sim bike|hr|band``: the emulator with its console client, and the emulator
reached from another process over an HCI transport."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from controller.cli import main
from equipment_adapters.base import LinkState, SetLoad
from equipment_adapters.batch import SampleBatch
from equipment_adapters.ble import Backoff, FtmsBikeAdapter, LinkOptions, VirtualAir


def test_sim_bike_console_prints_decoded_notifications(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "bike", "--duration", "1.5", "--time-scale", "10", "--erg", "180"]) == 0
    out = capsys.readouterr().out
    assert "advertising as" in out
    assert "request_op=set_target_power, result=success" in out
    assert "indoor_bike_data: instantaneous_speed_kmh=" in out
    assert "target_power_w=180" in out


def test_sim_hr_and_band(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "hr", "--duration", "1.0", "--time-scale", "5"]) == 0
    assert "rr_intervals_ms=" in capsys.readouterr().out
    assert main(["sim", "band", "--duration", "3.5", "--time-scale", "10", "--reps", "3"]) == 0
    out = capsys.readouterr().out
    assert "set: back_squat 100 kg x 3" in out
    assert "rep 1: mean velocity" in out


def test_sim_rejects_an_unknown_athlete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "bike", "--athlete", "nobody", "--duration", "1"]) == 2
    assert "--athlete nobody" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sim_bike_over_hci() -> Iterator[str]:
    port = free_port()
    spec = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "sim",
            "bike",
            "--name",
            "Remote Bike",
            "--hci",
            f"tcp-server:{spec}",
            "--no-console",
            "--time-scale",
            "10",
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "advertising as" in line:
                break
        else:
            pytest.fail("gymctl sim bike did not start")
        yield spec
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


async def test_adapter_in_another_process_reaches_the_sim_over_hci(sim_bike_over_hci: str) -> None:
    options = LinkOptions(
        scan_timeout_s=3.0, freshness_timeout_s=5.0, backoff=Backoff(initial_s=0.1, maximum_s=0.5)
    )
    async with VirtualAir(hci_transport=f"tcp-client:{sim_bike_over_hci}") as air:
        batches: list[SampleBatch] = []
        async with FtmsBikeAdapter(
            device_id="remote", on_batch=batches.append, backend=air.backend, options=options
        ) as adapter:
            assert adapter.link is LinkState.CONNECTED
            assert adapter.capabilities.model == "Remote Bike"
            await adapter.apply(SetLoad(210.0))
            async with asyncio.timeout(5.0):
                while not any(b.values[0] == 210.0 for b in batches):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
