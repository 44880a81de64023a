"""Tasks stop when cancelled, even when a library under them loses the cancellation.

A station's drive, cancelled in the middle of a device command that the library under the
adapter turns into its own error; the MQTT bridge, cancelled while aiomqtt waits for an
acknowledgement (Python 3.11's ``asyncio.wait_for`` returns the result and drops a
cancellation that arrives with it: ``gymctl run`` then ignored SIGINT once in a few runs).

pymodbus answers a cancelled request with a lost connection (``ConnectionException``,
mapped to ``DeviceUnavailableError``). The drive took that for a device failure and went
on; on Python 3.11 its loop's ``asyncio.timeout`` then took the pending cancellation for
its own expiry, every tick: the drive never stopped and a site's shutdown waited forever
(seen in the fault tests: a restarted site's teardown hung once in a few runs). The
adapter here, and the client below, are boundary doubles doing what pymodbus and aiomqtt
do; the site-level tests run the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib

from controller.bus import EventBus
from controller.mqtt import bridge
from controller.safety import ResistanceDrive
from equipment_adapters.base import Command
from equipment_adapters.errors import DeviceUnavailableError
from tests.controller.recording_adapter import RecordingAdapter, rack_capabilities


class CancelMangling(RecordingAdapter):
    """Every command waits for the device; a cancellation comes out as a lost link."""

    def __init__(self) -> None:
        super().__init__("rack-1-rack", rack_capabilities())
        self.waiting = asyncio.Event()

    async def apply(self, command: Command) -> None:
        self.waiting.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            raise DeviceUnavailableError("connection lost", device_id=self.device_id) from None
        await super().apply(command)


async def test_a_drive_cancelled_mid_command_stops_even_if_the_device_mangles_it() -> None:
    rack = CancelMangling()
    bus = EventBus()
    async with rack:
        drive = ResistanceDrive(
            station_id="rack-1", actuator=rack, publish=bus.publish, tick_s=0.01
        )
        await drive.__aenter__()
        await asyncio.wait_for(rack.waiting.wait(), 2)  # the start's safe-state command runs
        async with asyncio.timeout(3):  # before the fix: never returned
            await drive.__aexit__(None, None, None)
        task = drive._task  # the worker's end is what this test is about
        assert task is not None
        assert task.cancelled()


class CancelAnswering(RecordingAdapter):
    """Every command waits for the device; a cancellation is swallowed and the command
    answered, as pymodbus does when the response and the cancellation arrive together."""

    def __init__(self) -> None:
        super().__init__("rack-1-rack", rack_capabilities())
        self.waiting = asyncio.Event()

    async def apply(self, command: Command) -> None:
        self.waiting.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.5)
        await super().apply(command)


async def test_a_drive_cancelled_mid_command_stops_even_if_the_device_answers() -> None:
    rack = CancelAnswering()
    bus = EventBus()
    async with rack:
        drive = ResistanceDrive(
            station_id="rack-1", actuator=rack, publish=bus.publish, tick_s=0.01
        )
        await drive.__aenter__()
        await asyncio.wait_for(rack.waiting.wait(), 2)
        async with asyncio.timeout(3):  # before the fix: the drive went on, never returned
            await drive.__aexit__(None, None, None)
        task = drive._task
        assert task is not None
        assert task.cancelled()


class AckRacingClient:
    """``publish`` as aiomqtt on Python 3.11 behaves when the acknowledgement and a
    cancellation arrive together: it returns, the cancellation is gone."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.sent: list[str] = []

    async def publish(self, topic: str, payload: bytes, *, qos: int, retain: bool) -> None:
        self.waiting.set()
        # what asyncio.wait_for does when the awaited future is done as well
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.5)
        self.sent.append(topic)


async def test_a_publish_that_drops_a_cancellation_still_stops_the_bridge_task() -> None:
    client = AckRacingClient()

    async def telemetry() -> None:
        while True:  # the bridge's telemetry loop, in short
            await bridge._publish(client, "t", b"{}", 0, False)  # type: ignore[arg-type]
            await asyncio.sleep(0.05)

    task = asyncio.create_task(telemetry(), name="test-telemetry")
    await asyncio.wait_for(client.waiting.wait(), 2)
    task.cancel()
    async with asyncio.timeout(2):  # before the fix: the loop ran on, "cancelling" forever
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert client.sent == ["t"]  # it did go out: counted as published
