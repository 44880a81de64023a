"""The bleak backend on bumble: plain bleak calls against emulated peripherals."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from equipment_adapters.ble import DeviceMatch, VirtualAir, find_device, uuids
from equipment_adapters.ble._errors import ble_errors
from equipment_adapters.ble.codecs import ftms, hrs
from equipment_adapters.emulators.bike import BikeEmulator, BikeQuirks
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.errors import AttError, DeviceTimeoutError, DeviceUnavailableError


async def test_scanner_filters_by_service_and_reports_advertising_data(air: VirtualAir) -> None:
    async with (
        BikeEmulator(air, name="Bike A", tick_s=0.05),
        HrStrapEmulator(air, name="Strap A", tick_s=0.05),
    ):
        found = await BleakScanner.discover(
            timeout=0.3,
            return_adv=True,
            backend=air.scanner_class,
            service_uuids=[uuids.HEART_RATE_SERVICE],
        )
        names = {adv.local_name for _, adv in found.values()}
        assert names == {"Strap A"}
        everything = await BleakScanner.discover(
            timeout=0.3, return_adv=True, backend=air.scanner_class
        )
        bike = next(adv for _, adv in everything.values() if adv.local_name == "Bike A")
        assert uuids.FTMS_SERVICE in bike.service_uuids
        # FTMS service data: machine available, indoor bike (bit 5 of the machine type)
        assert bike.service_data[uuids.FTMS_SERVICE] == bytes([0x01, 0x20, 0x00])
        assert await find_device(DeviceMatch(name_prefix="Strap"), air.backend, 1.0) is not None
        assert await find_device(DeviceMatch(name="Nobody"), air.backend, 0.3) is None


async def test_client_reads_writes_subscribes_and_sees_att_errors(air: VirtualAir) -> None:
    async with BikeEmulator(air, name="Bike A", tick_s=0.05, time_scale=10) as bike:
        device = await BleakScanner.find_device_by_name(
            "Bike A", timeout=1.0, backend=air.scanner_class
        )
        assert device is not None
        async with BleakClient(device, backend=air.client_class) as client:
            assert client.is_connected
            assert client.mtu_size == 247
            char = client.services.get_characteristic(uuids.FTMS_CONTROL_POINT)
            assert char is not None
            assert set(char.properties) == {"write", "indicate"}
            assert [d.uuid for d in char.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
            feature = ftms.decode_feature(
                await client.read_gatt_char(uuids.FITNESS_MACHINE_FEATURE)
            )
            assert ftms.TargetSettingFeature.POWER_TARGET in feature.target
            with pytest.raises(BleakGATTProtocolError) as err:  # indications not enabled yet
                await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x00", response=True)
            assert err.value.code == 0xFD
            responses: list[ftms.ControlPointMessage] = []
            await client.start_notify(
                uuids.FTMS_CONTROL_POINT,
                lambda _c, d: responses.append(ftms.decode_control_point(d)),
            )
            await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x00", response=True)
            async with asyncio.timeout(2):
                while not responses:  # noqa: ASYNC110 - filled by the indication callback
                    await asyncio.sleep(0.01)
            assert responses == [
                ftms.ControlResponse(ftms.ControlOp.REQUEST_CONTROL, ftms.ResultCode.SUCCESS)
            ]
            assert bike.controller is not None
            data: list[bytearray] = []
            await client.start_notify(uuids.INDOOR_BIKE_DATA, lambda _c, d: data.append(d))
            async with asyncio.timeout(2):
                while len(data) < 3:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            await client.stop_notify(uuids.INDOOR_BIKE_DATA)
            await asyncio.sleep(0.2)
            count = len(data)
            await asyncio.sleep(0.2)
            assert len(data) == count  # the CCCD was written back to 0
            with pytest.raises(BleakGATTProtocolError) as read_err:  # not readable
                await client.read_gatt_char(uuids.FTMS_CONTROL_POINT)
            assert read_err.value.code == 0x02


async def test_disconnected_callback_and_drop(air: VirtualAir) -> None:
    async with HrStrapEmulator(air, name="Strap A", tick_s=0.05) as strap:
        device = await BleakScanner.find_device_by_name(
            "Strap A", timeout=1.0, backend=air.scanner_class
        )
        assert device is not None
        lost = asyncio.Event()
        client = BleakClient(
            device, disconnected_callback=lambda _c: lost.set(), backend=air.client_class
        )
        await client.connect()
        values: list[hrs.HeartRateMeasurement] = []
        await client.start_notify(
            uuids.HEART_RATE_MEASUREMENT, lambda _c, d: values.append(hrs.decode_heart_rate(d))
        )
        await air.drop(strap.address)
        async with asyncio.timeout(2):
            await lost.wait()
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.read_gatt_char(uuids.HEART_RATE_MEASUREMENT)
        await client.disconnect()  # harmless once the link is gone


async def test_connecting_to_nobody_fails_cleanly(air: VirtualAir) -> None:
    client = BleakClient("C0:00:00:00:FF:01", backend=air.client_class, timeout=0.5)
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()


async def test_pairing_over_the_virtual_link(air: VirtualAir) -> None:
    async with BikeEmulator(air, name="Bike A", quirks=BikeQuirks(require_encryption=True)) as bike:
        device = await BleakScanner.find_device_by_name(
            "Bike A", timeout=1.0, backend=air.scanner_class
        )
        assert device is not None
        async with BleakClient(device, backend=air.client_class) as client:
            await client.start_notify(uuids.FTMS_CONTROL_POINT, lambda _c, _d: None)
            with pytest.raises(BleakGATTProtocolError) as err:
                await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x00", response=True)
            assert err.value.code == 0x0F  # insufficient encryption
            await client.pair()
            assert bike.connections[0].is_encrypted
            await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x00", response=True)


def test_error_mapping_keeps_codes_and_never_maps_cancellation() -> None:
    with pytest.raises(AttError) as att, ble_errors("bike-1", "write"):
        raise BleakGATTProtocolError(0xFE)
    assert att.value.code == 0xFE
    assert att.value.name == "PROCEDURE_ALREADY_IN_PROGRESS"
    assert att.value.device_id == "bike-1"
    with pytest.raises(DeviceTimeoutError), ble_errors("bike-1", "read"):
        raise TimeoutError
    with pytest.raises(DeviceUnavailableError), ble_errors("bike-1", "connect"):
        raise BleakDeviceNotFoundError("C0:00:00:00:00:01")
    with pytest.raises(asyncio.CancelledError), ble_errors("bike-1", "read"):
        raise asyncio.CancelledError
