"""The common life of a BLE emulator: a bumble GATT server advertising on a VirtualAir.

An emulator is an async context manager. Entering creates its bumble device on the air,
registers its GATT services, powers on and advertises (again after every disconnection,
as real sensors do); a named task advances the device's model in simulated time
(``time_scale`` simulated seconds per real second) and sends notifications. Leaving stops
the task and drops every connection.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Any, Self

from bumble import att, core, hci
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, Service

from equipment_adapters.ble.bumble_backend import VirtualAir

logger = logging.getLogger(__name__)


def uuid16(short: int) -> core.UUID:
    return core.UUID.from_16_bits(short)


def not_readable(connection: Connection) -> bytes:
    """Read handler of write-only characteristics: bumble's server does not check the
    properties itself, so a read would otherwise get no answer at all."""
    raise att.ATT_Error(att.ErrorCode.READ_NOT_PERMITTED)


class BlePeripheral(abc.ABC):
    """Base of the BLE emulators; subclasses give services and a model step."""

    def __init__(
        self, air: VirtualAir, *, name: str, tick_s: float = 1.0, time_scale: float = 1.0
    ) -> None:
        if tick_s <= 0 or time_scale <= 0:
            raise ValueError("tick_s and time_scale must be positive")
        self.air = air
        self.name = name
        self.tick_s = tick_s
        self.time_scale = time_scale
        self.sim_time_s = 0.0
        self._device: Device | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._owned: set[asyncio.Task[Any]] = set()
        self._advertising = True

    # -- what subclasses provide --

    @abc.abstractmethod
    def services(self) -> list[Service]:
        """The GATT services, built once when the emulator starts."""

    @abc.abstractmethod
    def advertised_uuids(self) -> list[core.UUID]:
        """Service UUIDs to put in the advertising data (what scanners match on)."""

    def service_data(self) -> list[tuple[core.UUID, bytes]]:
        return []

    @abc.abstractmethod
    async def step(self, dt_s: float) -> None:
        """Advance the model by ``dt_s`` simulated seconds and notify subscribers."""

    def on_connection(self, connection: Connection) -> None:  # noqa: B027 - optional hook
        """A central connected."""

    def on_disconnection(self, connection: Connection, reason: int) -> None:  # noqa: B027
        """A central disconnected (subclasses drop per-connection state here)."""

    # -- life --

    @property
    def device(self) -> Device:
        if self._device is None:
            raise RuntimeError(f"{self.name}: emulator not started (use 'async with')")
        return self._device

    @property
    def address(self) -> str:
        return str(self.device.random_address).split("/")[0]

    @property
    def connections(self) -> list[Connection]:
        return list(self.device.connections.values())

    def _advertising_data(self) -> bytes:
        entries: list[tuple[int, bytes]] = [
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode("utf-8")),
        ]
        short = [u for u in self.advertised_uuids() if len(bytes(u)) == 2]
        long = [u for u in self.advertised_uuids() if len(bytes(u)) == 16]
        if short:
            entries.append(
                (
                    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                    b"".join(bytes(u) for u in short),
                )
            )
        if long:
            entries.append(
                (
                    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                    b"".join(bytes(u) for u in long),
                )
            )
        for uuid, data in self.service_data():
            entries.append((AdvertisingData.SERVICE_DATA_16_BIT_UUID, bytes(uuid) + data))
        return bytes(AdvertisingData(entries))

    async def __aenter__(self) -> Self:
        device = self._device = self.air.create_device(self.name)
        device.add_services(self.services())
        device.on("connection", self._on_connection)
        await device.power_on()
        await self._start_advertising()
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self.spawn(self._tick_loop(), "model")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks, self._tasks = self._tasks, None
        if tasks is not None:
            for task in list(self._owned):
                task.cancel()
            await tasks.__aexit__(None, None, None)
        self._advertising = False
        await self.disconnect()
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            await self.device.stop_advertising()

    def spawn(self, coro: Any, name: str) -> None:
        """Run a coroutine owned by the emulator (ended when the emulator stops)."""
        if self._tasks is None:
            coro.close()
            return
        task = self._tasks.create_task(coro, name=f"emulator-{self.name}-{name}")
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)

    async def _start_advertising(self) -> None:
        await self.device.start_advertising(
            advertising_data=self._advertising_data(),
            advertising_interval_min=20,
            advertising_interval_max=20,
        )

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            dt = self.tick_s * self.time_scale
            self.sim_time_s += dt
            await self.step(dt)

    def _on_connection(self, connection: Connection) -> None:
        connection.on("disconnection", lambda reason: self._on_disconnection(connection, reason))
        self.on_connection(connection)

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        self.on_disconnection(connection, reason)
        if self._advertising:
            self.spawn(self._readvertise(), "advertise")

    async def _readvertise(self) -> None:
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            await self._start_advertising()

    async def set_available(self, available: bool) -> None:
        """Stop or resume advertising (a device switched off or out of range)."""
        self._advertising = available
        if available:
            await self._start_advertising()
        else:
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await self.device.stop_advertising()

    async def disconnect(self) -> None:
        """Drop every connection from the peripheral's side (power loss, out of range)."""
        for connection in self.connections:
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await connection.disconnect()

    async def notify(self, characteristic: Characteristic[Any], value: bytes) -> None:
        """Notify every subscribed connection (bumble skips those that did not subscribe)."""
        for connection in self.connections:
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
                await self.device.notify_subscriber(connection, characteristic, value)

    def subscribed(
        self, connection: Connection, characteristic: Characteristic[Any], bit: int
    ) -> bool:
        """Whether ``connection`` enabled notifications (bit 1) or indications (bit 2)."""
        cccd = self.device.gatt_server.subscribers.get(connection, {}).get(characteristic.handle)
        if not cccd or len(cccd) != 2:
            return False
        return bool(cccd[0] & bit)
