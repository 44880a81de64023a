"""What every BLE adapter shares: finding the device, and supervising its connection.

:class:`BleAdapter` runs one supervisor task per device: scan for the device (by address,
service UUID and name), connect a *fresh* ``BleakClient``, let the subclass set up
(discover, subscribe, request control), then watch the link: a disconnection or a data
freshness timeout ends the session, and the supervisor tries again after an exponential
backoff with jitter. bleak and bumble errors become the project's at this boundary only.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from equipment_adapters.base import Adapter, DeviceFault, LinkState
from equipment_adapters.batch import SampleBatch
from equipment_adapters.ble._errors import ble_errors
from equipment_adapters.ble.bumble_backend import PLATFORM_BACKEND, BleBackend
from equipment_adapters.errors import DecodeError, DeviceError, DeviceUnavailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceMatch:
    """Which advertiser is ours: every given criterion must hold.

    ``name`` matches the advertised local name exactly, ``name_prefix`` its start (bikes
    often advertise "KICKR 1A2B"); ``service_uuid`` must be among the advertised services.
    """

    service_uuid: str | None = None
    name: str | None = None
    name_prefix: str | None = None
    address: str | None = None

    def matches(self, device: BLEDevice, adv: AdvertisementData) -> bool:
        if self.address is not None and device.address.upper() != self.address.upper():
            return False
        if self.service_uuid is not None and self.service_uuid.lower() not in adv.service_uuids:
            return False
        local = adv.local_name or device.name or ""
        if self.name is not None and local != self.name:
            return False
        return self.name_prefix is None or local.startswith(self.name_prefix)


async def find_device(
    match: DeviceMatch, backend: BleBackend = PLATFORM_BACKEND, timeout_s: float = 10.0
) -> BLEDevice | None:
    """Scan until an advertiser matches (None after ``timeout_s``)."""
    kwargs: dict[str, Any] = {}
    if backend.scanner is not None:
        kwargs["backend"] = backend.scanner
    if match.service_uuid is not None:
        kwargs["service_uuids"] = [match.service_uuid]
    return await BleakScanner.find_device_by_filter(match.matches, timeout=timeout_s, **kwargs)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnection attempts: exponential, capped, with jitter."""

    initial_s: float = 0.5
    factor: float = 2.0
    maximum_s: float = 30.0
    jitter: float = 0.2  #: +- this fraction, so many devices do not retry in step

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.maximum_s, self.initial_s * self.factor**attempt)
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


@dataclass(frozen=True, slots=True)
class LinkOptions:
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    #: no notification for this long ends the session (and reconnects on a fresh client)
    freshness_timeout_s: float = 5.0
    backoff: Backoff = Backoff()
    pair: bool = False  #: pair right after connecting (else only when the device asks)


DEFAULT_LINK_OPTIONS = LinkOptions()


class BleAdapter(Adapter):
    """Base of the BLE adapters: supervision, freshness, reconnection, error mapping.

    Subclasses implement :meth:`_setup` (on every new connection) and
    :attr:`capabilities`; they call :meth:`_received` on every notification so the
    freshness watchdog knows the link is alive, and :meth:`_spawn` for background work
    that must end with the connection.
    """

    def __init__(
        self,
        *,
        device_id: str,
        match: DeviceMatch,
        on_batch: Callable[[SampleBatch], None],
        on_event: Callable[[Any], None] | None = None,
        backend: BleBackend = PLATFORM_BACKEND,
        options: LinkOptions = DEFAULT_LINK_OPTIONS,
        seed: int | None = None,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        self.match = match
        self.backend = backend
        self.options = options
        self._rng = random.Random(seed)
        self._client: BleakClient | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._last_rx = 0.0
        self._entered = False
        self.connections = 0  #: sessions established so far (1 + reconnections)
        self.advertised_name = ""
        self._fault_logged: set[str] = set()

    # -- for subclasses --

    @abc.abstractmethod
    async def _setup(self, client: BleakClient) -> None:
        """Discover, subscribe and prepare the device on a new connection."""

    async def _teardown(self) -> None:
        """Forget per-connection state after the link ended."""

    async def _close(self, client: BleakClient) -> None:
        """Put the device in its safe state before the adapter disconnects for good."""

    @property
    def client(self) -> BleakClient:
        if self._client is None or self._link is not LinkState.CONNECTED:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        return self._client

    def _received(self) -> None:
        self._last_rx = time.monotonic()

    def _decode_failed(self, what: str, exc: DecodeError) -> None:
        """A malformed notification: report once per kind, keep the link."""
        if what not in self._fault_logged:
            self._fault_logged.add(what)
            logger.warning("%s: malformed %s: %s", self.device_id, what, exc)
            self._emit(DeviceFault(self.device_id, f"malformed {what}: {exc}"))

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Background work of the current connection (cancelled when it ends)."""
        if self._tasks is None:
            coro.close()
            return
        task = self._tasks.create_task(coro, name=f"ble-{self.device_id}-{name}")
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)

    # -- the context manager --

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(f"{self.device_id}: adapter is already running (not re-entrant)")
        self._entered = True
        self._first_attempt = asyncio.Event()
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        supervisor = self._supervisor = self._tasks.create_task(
            self._supervise(), name=f"ble-{self.device_id}"
        )
        first = asyncio.create_task(self._first_attempt.wait(), name=f"ble-{self.device_id}-enter")
        await asyncio.wait((supervisor, first), return_when=asyncio.FIRST_COMPLETED)
        first.cancel()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client = self._client
        if client is not None and self._link is LinkState.CONNECTED:
            with contextlib.suppress(DeviceError, TimeoutError):
                async with asyncio.timeout(self.options.connect_timeout_s):
                    await self._close(client)
        tasks, self._tasks = self._tasks, None
        if tasks is not None:
            for task in [self._supervisor, *self._session_tasks]:
                if task is not None:
                    task.cancel()
            await tasks.__aexit__(None, None, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.disconnect()
        self._client = None
        self._set_link(LinkState.DISCONNECTED, "adapter closed")
        self._entered = False

    # -- supervision --

    async def _supervise(self) -> None:
        attempt = 0
        assert self._first_attempt is not None
        while True:
            self._set_link(LinkState.CONNECTING)
            try:
                await self._session()
                attempt = 0
            except DeviceError as exc:
                self._set_link(LinkState.DISCONNECTED, str(exc))
            self._first_attempt.set()
            delay = self.options.backoff.delay(attempt, self._rng)
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        device = await find_device(self.match, self.backend, self.options.scan_timeout_s)
        if device is None:
            raise DeviceUnavailableError(
                f"no advertiser matches {self.match} within {self.options.scan_timeout_s} s",
                device_id=self.device_id,
            )
        lost = asyncio.Event()
        kwargs: dict[str, Any] = {"timeout": self.options.connect_timeout_s}
        if self.backend.client is not None:
            kwargs["backend"] = self.backend.client
        client = BleakClient(device, disconnected_callback=lambda _c: lost.set(), **kwargs)
        with ble_errors(self.device_id, "connect"):
            await client.connect()
        self.advertised_name = device.name or ""
        self._client = client
        self._received()
        try:
            with ble_errors(self.device_id, "set up"):
                await self._setup(client)
            self.connections += 1
            self._set_link(LinkState.CONNECTED)
            assert self._first_attempt is not None
            self._first_attempt.set()
            reason = await self._watch(lost)
            self._set_link(LinkState.DISCONNECTED, reason)
        finally:
            for task in list(self._session_tasks):
                task.cancel()
            self._client = None
            await self._teardown()
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def _watch(self, lost: asyncio.Event) -> str:
        timeout = self.options.freshness_timeout_s
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(timeout / 4, 1.0)):
                    await lost.wait()
                    return "disconnected"
            silent = time.monotonic() - self._last_rx
            if silent > timeout:
                return f"no data for {silent:.1f} s (freshness timeout {timeout} s)"
