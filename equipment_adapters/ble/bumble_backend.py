"""A bleak backend on Google's bumble stack, and the virtual "air" it runs on.

There is no Bluetooth radio where gymctl's tests, demo and benchmarks run, so emulated
peripherals (bumble GATT servers) and the controller's central share a
:class:`VirtualAir`: an in-process ``bumble.link.LocalLink`` with one emulated controller
per device. :class:`BumbleScanner` and :class:`BumbleClient` implement bleak's backend
contract on the central, so the adapters' unmodified bleak code (``BleakScanner``,
``BleakClient``) reaches the peripherals over real ATT PDUs: CCCD writes, notifications,
indications with confirmations, ATT error responses, MTU exchange and SMP pairing.

Usage::

    async with VirtualAir() as air:
        async with BikeEmulator(air, name="Bike 1"):
            async with BleakClient(address, backend=air.backend.client) as client:
                ...

``VirtualAir(hci_transport="tcp-client:127.0.0.1:9000")`` puts the central on an HCI
transport instead (for example the one ``gymctl sim bike --hci tcp-server:...`` exposes
from another process). ``LocalLink`` has no radio timing: tests inject dropouts with
:meth:`VirtualAir.drop` or an emulator's ``disconnect()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport

logger = logging.getLogger(__name__)

#: The ATT MTU the central asks for (the largest BLE 4.2+ devices commonly grant).
PREFERRED_MTU = 247
#: LE Data Length Extension: ACL payload per packet of the emulated controllers (bumble's
#: default is the BLE 4.0 minimum, 27, which splits one 247-byte ATT PDU in ten).
LE_ACL_DATA_LENGTH = 251
_PROPERTY_NAMES = (
    (0x01, "broadcast"),
    (0x02, "read"),
    (0x04, "write-without-response"),
    (0x08, "write"),
    (0x10, "notify"),
    (0x20, "indicate"),
    (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
)


@dataclass(frozen=True, slots=True)
class BleBackend:
    """The bleak backend classes adapters pass on; ``None`` means bleak's platform default.

    ``PLATFORM_BACKEND`` (all ``None``) drives real hardware through BlueZ, CoreBluetooth or
    WinRT; ``VirtualAir.backend`` drives emulated peripherals.
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


PLATFORM_BACKEND = BleBackend()


def _bleak_uuid(value: core.UUID) -> str:
    text = value.to_hex_str("-").lower() if hasattr(value, "to_hex_str") else str(value)
    if len(text) == 4:
        return f"0000{text}-0000-1000-8000-00805f9b34fb"
    if len(text) == 8:
        return f"{text}-0000-1000-8000-00805f9b34fb"
    return str(uuid_module.UUID(text))


class VirtualAir:
    """A shared in-process Bluetooth LE medium: peripherals and the central live here.

    An async context manager: entering powers on the central, leaving disconnects and powers
    off every device created on it. One air per test, demo or benchmark.
    """

    _addresses: ClassVar = itertools.count(1)

    def __init__(self, *, central_name: str = "gymctl", hci_transport: str | None = None) -> None:
        self._central_name = central_name
        self._hci_spec = hci_transport
        self._transports: list[Transport] = []
        self._devices: list[Device] = []
        self._scan_listeners: list[Callable[[Advertisement], None]] = []
        self._connect_lock: asyncio.Lock | None = None
        self.link: LocalLink | None = None
        self._central: Device | None = None
        #: bleak backend classes bound to this air (``backend=`` of BleakScanner/BleakClient)
        self.scanner_class: type[BumbleScanner] = type(
            "BumbleScanner", (BumbleScanner,), {"air": self}
        )
        self.client_class: type[BumbleClient] = type("BumbleClient", (BumbleClient,), {"air": self})
        self.backend = BleBackend(scanner=self.scanner_class, client=self.client_class)

    @property
    def central(self) -> Device:
        if self._central is None:
            raise RuntimeError("the VirtualAir is not entered (use 'async with')")
        return self._central

    def _next_address(self) -> hci.Address:
        n = next(self._addresses)
        # random static address: the two top bits of the most significant byte set
        return hci.Address(
            f"C0:{(n >> 24) & 0xFF:02X}:{(n >> 16) & 0xFF:02X}:"
            f"{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}:01"
        )

    async def __aenter__(self) -> Self:
        self._connect_lock = asyncio.Lock()
        self.link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
        if self._hci_spec is None:
            self._central = self._local_device(self._central_name)
        else:
            transport = await open_transport(self._hci_spec)
            self._transports.append(transport)
            host = Host(controller_source=transport.source, controller_sink=transport.sink)
            self._central = Device(name=self._central_name, address=self._next_address(), host=host)
            self._devices.append(self._central)
        self._central.on("advertisement", self._on_advertisement)
        await self._central.power_on()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for device in reversed(self._devices):
            for connection in list(device.connections.values()):
                with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, asyncio.TimeoutError):
                    async with asyncio.timeout(1.0):
                        await connection.disconnect()
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, asyncio.TimeoutError):
                async with asyncio.timeout(1.0):
                    await device.power_off()
        for transport in self._transports:
            await transport.close()
        self._devices.clear()
        self._central = None

    def _local_device(self, name: str) -> Device:
        controller = Controller(f"{name}-controller", link=self.link)
        controller.le_acl_data_packet_length = LE_ACL_DATA_LENGTH
        device = Device(
            name=name,
            address=self._next_address(),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._devices.append(device)
        return device

    def create_device(self, name: str) -> Device:
        """A new bumble device on this air (powered off); emulators build their GATT on it."""
        if self.link is None:
            raise RuntimeError("the VirtualAir is not entered (use 'async with')")
        return self._local_device(name)

    async def expose_hci(self, spec: str) -> Transport:
        """Attach one more emulated controller to the air, driven over an HCI transport.

        With ``tcp-server:127.0.0.1:PORT`` another process can run a bumble host (such as
        ``VirtualAir(hci_transport="tcp-client:127.0.0.1:PORT")``) as a central on this air.
        """
        transport = await open_transport(spec)
        self._transports.append(transport)
        controller = Controller(
            "hci-controller", host_source=transport.source, host_sink=transport.sink, link=self.link
        )
        controller.le_acl_data_packet_length = LE_ACL_DATA_LENGTH
        return transport

    async def drop(self, address: str) -> None:
        """Break the central's connection to ``address`` (a dropout of the radio link)."""
        for connection in list(self.central.connections.values()):
            if str(connection.peer_address).split("/")[0] == address.upper():
                await connection.disconnect(hci.HCI_CONNECTION_TIMEOUT_ERROR)

    # -- scanning and connecting, shared by every scanner and client on the central --

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._scan_listeners):
            listener(advertisement)

    async def _scan_start(self, listener: Callable[[Advertisement], None]) -> None:
        self._scan_listeners.append(listener)
        if len(self._scan_listeners) == 1:
            await self.central.start_scanning(filter_duplicates=False)

    async def _scan_stop(self, listener: Callable[[Advertisement], None]) -> None:
        if listener in self._scan_listeners:
            self._scan_listeners.remove(listener)
            if not self._scan_listeners and self._central is not None:
                await self.central.stop_scanning()

    async def _connect(self, address: hci.Address, limit_s: float) -> Connection:
        assert self._connect_lock is not None
        async with self._connect_lock:  # one LE connection attempt at a time per central
            return await self.central.connect(address, timeout=limit_s)


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend: advertising reports of the :class:`VirtualAir`'s central."""

    air: ClassVar[VirtualAir]

    def __init__(
        self,
        detection_callback: Any = None,
        service_uuids: list[str] | None = None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        self.seen_devices = {}
        await self.air._scan_start(self._on_advertisement)

    async def stop(self) -> None:
        await self.air._scan_stop(self._on_advertisement)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement.data
        name = data.get(data.Type.COMPLETE_LOCAL_NAME) or data.get(data.Type.SHORTENED_LOCAL_NAME)
        uuids: list[str] = []
        for type_id in (
            data.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            data.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            data.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            data.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            for group in data.get_all(type_id):
                for value in group:
                    text = _bleak_uuid(value)
                    if text not in uuids:
                        uuids.append(text)
        service_data = {
            _bleak_uuid(key): bytes(value)
            for key, value in data.get_all(data.Type.SERVICE_DATA_16_BIT_UUID)
            + data.get_all(data.Type.SERVICE_DATA_128_BIT_UUID)
        }
        manufacturer = {
            int(company): bytes(value)
            for company, value in data.get_all(data.Type.MANUFACTURER_SPECIFIC_DATA)
        }
        tx_power = data.get(data.Type.TX_POWER_LEVEL)
        adv = AdvertisementData(
            local_name=name if isinstance(name, str) else None,
            manufacturer_data=manufacturer,
            service_data=service_data,
            service_uuids=uuids,
            tx_power=tx_power if isinstance(tx_power, int) else None,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        if not self.is_allowed_uuid(uuids):
            return
        key = str(advertisement.address).split("/")[0]
        device = self.create_or_update_device(key, key, adv.local_name, advertisement.address, adv)
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    """bleak client backend: a GATT client on the :class:`VirtualAir`'s central."""

    air: ClassVar[VirtualAir]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        details = getattr(address_or_ble_device, "details", None)
        self._target = (
            details
            if isinstance(details, hci.Address)
            else hci.Address(self.address, hci.Address.RANDOM_DEVICE_ADDRESS)
        )
        self._name = getattr(address_or_ble_device, "name", None) or self.address
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return str(self._name)

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self.air._connect(self._target, self._timeout)
        except (core.ConnectionError, hci.HCI_Error) as exc:
            raise BleakDeviceNotFoundError(self.address, f"connection failed: {exc}") from exc
        except (TimeoutError, core.TimeoutError) as exc:
            raise BleakDeviceNotFoundError(self.address, "connection timed out") from exc
        self._connection = connection
        self._closing = False
        connection.on("disconnection", self._on_disconnection)
        peer = self._peer = Peer(connection)
        try:
            await self._gatt(peer.request_mtu(PREFERRED_MTU))
            await self._gatt(peer.discover_services())
            for service in peer.services:
                await self._gatt(service.discover_characteristics())
                for characteristic in service.characteristics:
                    await self._gatt(characteristic.discover_descriptors())
            self.services = self._collect(peer)
            if pair:
                await self.pair()
        except BaseException:
            await self.disconnect()
            raise

    def _collect(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        mtu = lambda: self.mtu_size - 3  # noqa: E731
        for service in peer.services:
            bleak_service = BleakGATTService(service, service.handle, _bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                props = [n for bit, n in _PROPERTY_NAMES if int(characteristic.properties) & bit]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    _bleak_uuid(characteristic.uuid),
                    props,  # type: ignore[arg-type]
                    mtu,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, _bleak_uuid(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self.services = None
        self._subscribers.clear()
        if not self._closing and self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error):
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        connection = self._require()
        try:
            await connection.pair()
        except (core.BaseBumbleError, hci.HCI_Error) as exc:
            raise BleakError(f"pairing failed: {exc}") from exc

    async def unpair(self) -> None:
        """Forget nothing persistent (the central keeps keys in memory only), disconnect."""
        await self.disconnect()

    def _require(self) -> Connection:
        if self._connection is None or self._peer is None:
            raise BleakError("Not connected")
        return self._connection

    async def _gatt(self, request: Any) -> Any:
        """Await one GATT request, translating bumble's failures into bleak's."""
        try:
            return await request
        except att.ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc
        except core.TimeoutError as exc:
            raise TimeoutError(str(exc)) from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # bumble cancels the pending response when the link drops: not our cancellation
            raise BleakError("disconnected during a GATT request") from None

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require()
        return bytearray(await self._gatt(characteristic.obj.read_value()))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require()
        return bytearray(await self._gatt(descriptor.obj.read_value()))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        self._require()
        await self._gatt(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        self._require()
        await self._gatt(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        self._require()
        assert self._peer is not None

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._gatt(self._peer.subscribe(characteristic.obj, subscriber, prefer_notify=True))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._require()
        assert self._peer is not None
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._gatt(self._peer.unsubscribe(characteristic.obj, subscriber))
