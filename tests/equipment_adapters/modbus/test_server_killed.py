"""A rack whose process is killed mid-stream (SIGKILL) and started again."""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from equipment_adapters.base import LinkState
from equipment_adapters.batch import Channel
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.rack import RackAdapter
from tests.equipment_adapters.modbus.conftest import FAST, Recorder


@asynccontextmanager
async def rack_process(port: int) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``gymctl sim rack`` in a process of its own; yields it and the port it serves."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "sim",
        "rack",
        "--port",
        str(port),
        "--idle",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, line
        yield process, int(match.group(1))
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()  # to the end of its output: the pipes close


async def test_killed_rack_is_reconnected_and_its_restart_reported() -> None:
    recorder = Recorder()
    async with rack_process(0) as (first, port):
        adapter = RackAdapter(
            device_id="killed",
            regmap="reference-rack",
            endpoint=TcpEndpoint("127.0.0.1", port),
            on_batch=recorder.on_batch,
            on_event=recorder.on_event,
            options=FAST,
        )
        async with adapter:
            await recorder.wait_for(lambda: recorder.samples(Channel.POSITION_LEFT) > 300)
            first.send_signal(signal.SIGKILL)
            await first.communicate()
            await recorder.wait_for(lambda: adapter.link is LinkState.DISCONNECTED)
            before = recorder.samples(Channel.POSITION_LEFT)
            async with rack_process(port):
                await recorder.wait_for(lambda: adapter.stats.sessions == 2, within=20)
                await recorder.wait_for(
                    lambda: recorder.samples(Channel.POSITION_LEFT) > before + 300
                )
    # the new process numbers its samples afresh: reported, and never a repeat
    gaps = recorder.gaps()
    assert [g.reason for g in gaps] == ["rewind"]
    assert gaps[0].restarted
    assert gaps[0].lost == 0
    batches = recorder.channel(Channel.POSITION_LEFT)
    breaks = [
        after.seq
        for before_batch, after in itertools.pairwise(batches)
        if after.seq != (before_batch.seq or 0) + len(before_batch)
    ]
    assert breaks == [gaps[0].received]  # one break, where the new numbering starts
    assert LinkState.DISCONNECTED in recorder.links()
