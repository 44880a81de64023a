"""Adapters for a station's devices, from the site config: the factory ``Station`` calls.

A rack is a ``RackAdapter`` over Modbus TCP or RTU with its register map (a shipped map by
name, or a file next to the config); BLE devices are found by address or advertised name
and reached through bleak with the given backend (the platform's radio by default, a
``VirtualAir`` for emulated equipment).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from controller.config import BleDeviceConfig, DeviceRole, RackConfig, is_map_file
from controller.errors import ConfigError
from controller.station import AdapterFactory
from equipment_adapters.base import Adapter, BatchSink, EventSink
from equipment_adapters.ble import (
    PLATFORM_BACKEND,
    BandAdapter,
    BleBackend,
    DeviceMatch,
    FtmsBikeAdapter,
    HrStrapAdapter,
    LinkOptions,
    PowerMeterAdapter,
    uuids,
)
from equipment_adapters.errors import RegisterMapError
from equipment_adapters.modbus import RackAdapter, RackOptions, RtuEndpoint, TcpEndpoint, load_map

_SERVICES: dict[str, str] = {
    "bike": uuids.FTMS_SERVICE,
    "hr_strap": uuids.HEART_RATE_SERVICE,
    "power_meter": uuids.CYCLING_POWER_SERVICE,
    "band": uuids.BAND_SERVICE,
}


def device_match(role: DeviceRole, device: BleDeviceConfig) -> DeviceMatch:
    """How a BLE device of the config is recognised among advertisers."""
    return DeviceMatch(service_uuid=_SERVICES[role], name=device.name, address=device.address)


def rack_adapter(
    device: RackConfig,
    device_id: str,
    on_batch: BatchSink,
    on_event: EventSink,
    *,
    base_dir: Path,
    options: RackOptions | None = None,
) -> RackAdapter:
    spec = str(base_dir / device.map) if is_map_file(device.map) else device.map
    try:
        regmap = load_map(spec)
    except RegisterMapError as exc:
        raise ConfigError(str(exc), where=f"{device_id}: map") from None
    if device.transport == "tcp":
        assert device.host is not None
        endpoint: TcpEndpoint | RtuEndpoint = TcpEndpoint(device.host, device.port)
    else:
        assert device.serial is not None
        endpoint = RtuEndpoint(device.serial, baudrate=device.baudrate)
    rack_options = options or RackOptions()
    rack_options = dataclasses.replace(rack_options, request_timeout=device.timeout_s)
    return RackAdapter(
        device_id=device_id,
        regmap=regmap,
        endpoint=endpoint,
        unit_id=device.unit,
        on_batch=on_batch,
        on_event=on_event,
        options=rack_options,
    )


def make_adapter_factory(
    *,
    base_dir: Path = Path("."),
    ble_backend: BleBackend = PLATFORM_BACKEND,
    rack_options: RackOptions | None = None,
) -> AdapterFactory:
    """The factory for real (or emulated, over the same protocols) equipment."""

    def make(
        role: DeviceRole,
        device: RackConfig | BleDeviceConfig,
        device_id: str,
        on_batch: BatchSink,
        on_event: EventSink,
    ) -> Adapter:
        if isinstance(device, RackConfig):
            return rack_adapter(
                device, device_id, on_batch, on_event, base_dir=base_dir, options=rack_options
            )
        match = device_match(role, device)
        options = LinkOptions(
            scan_timeout_s=device.connect_timeout_s, connect_timeout_s=device.connect_timeout_s
        )
        common = {
            "device_id": device_id,
            "on_batch": on_batch,
            "on_event": on_event,
            "match": match,
            "backend": ble_backend,
            "options": options,
        }
        if role == "bike":
            return FtmsBikeAdapter(**common)  # type: ignore[arg-type]
        if role == "hr_strap":
            return HrStrapAdapter(**common)  # type: ignore[arg-type]
        if role == "power_meter":
            return PowerMeterAdapter(**common)  # type: ignore[arg-type]
        if role == "band":
            return BandAdapter(**common)  # type: ignore[arg-type]
        raise ConfigError(f"no adapter for role {role!r}", where=device_id)

    return make
