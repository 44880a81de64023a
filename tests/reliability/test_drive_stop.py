"""A station's drive stops when it is cancelled in the middle of a device command, even
when the library under the adapter turns the cancellation into its own error.

pymodbus answers a cancelled request with a lost connection (``ConnectionException``,
mapped to ``DeviceUnavailableError``). The drive took that for a device failure and went
on; on Python 3.11 its loop's ``asyncio.timeout`` then took the pending cancellation for
its own expiry, every tick: the drive never stopped and a site's shutdown waited forever
(seen in the fault tests: a restarted site's teardown hung once in a few runs). The
adapter here is the boundary double doing what pymodbus does; the site-level tests run the
real adapter.
"""

from __future__ import annotations

import asyncio

from controller.bus import EventBus
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
