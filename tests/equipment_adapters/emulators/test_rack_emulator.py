"""The emulated rack as a Modbus device: its firmware's answers over a real connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rack import RackEmulator, find_athlete
from equipment_adapters.errors import ModbusExceptionError
from equipment_adapters.modbus.device import MapDevice
from equipment_adapters.modbus.link import ModbusLink, TcpEndpoint
from equipment_adapters.modbus.regmap import Table
from kernels.errors import InvalidInputError
from tests.equipment_adapters.modbus.conftest import FOREIGN_MAP


@asynccontextmanager
async def connected(rack: RackEmulator) -> AsyncIterator[MapDevice]:
    async with ModbusLink(TcpEndpoint("127.0.0.1", rack.port), unit_id=rack.regmap.unit_id) as link:
        yield MapDevice(link, rack.regmap)


async def refused(device: MapDevice, name: str, value: object) -> int:
    with pytest.raises(ModbusExceptionError) as info:
        await device.write_point(name, value, check_limits=False)  # type: ignore[arg-type]
    return info.value.code


async def test_identity_and_undefined_addresses() -> None:
    async with RackEmulator() as rack, connected(rack) as device:
        assert await device.check_identity() == {"model_id": 0x5252, "map_version": 1}
        with pytest.raises(ModbusExceptionError) as info:
            await device.read_registers(Table.HOLDING, 15, 1)  # between the actuators and the cue
        assert info.value.code == 2
        with pytest.raises(ModbusExceptionError) as info:
            await device.read_registers(Table.COIL, 0, 1)  # the map has no coils
        assert info.value.code == 2


async def test_writes_outside_limits_and_read_only_registers_are_refused() -> None:
    async with RackEmulator() as rack, connected(rack) as device:
        assert await refused(device, "ramp_rate", 500.0) == 3
        assert await refused(device, "mode", 7) == 3
        with pytest.raises(ModbusExceptionError) as info:
            await device.link.write(
                Table.HOLDING, 2, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            )  # runs into a gap
        assert info.value.code == 2
        assert rack.state.ramp_kg_s == 20.0


async def test_no_load_without_a_heartbeat_and_the_watchdog_trips() -> None:
    async with RackEmulator() as rack, connected(rack) as device:
        assert await refused(device, "target_load", 20.0) == 4
        await device.write_point("watchdog_timeout", 0.2)
        await device.write_point("heartbeat", 1)
        await device.write_point("target_load", 20.0)
        armed = rack.state
        assert armed.watchdog_armed
        for beat in range(2, 6):
            await asyncio.sleep(0.1)
            await device.write_point("heartbeat", beat)
        assert rack.state.fault is None
        await asyncio.sleep(0.3)
        state = rack.state
        assert (state.fault, state.target_load_kg, state.actual_load_kg) == ("watchdog", 0, 0)
        status = await device.read_point("status")
        assert int(status) & 0b10  # fault bit
        assert await device.read_point("fault_code") == 1
        assert await refused(device, "target_load", 20.0) == 4
        assert await refused(device, "mode", "eccentric") == 4
        await device.write_point("target_load", 0.0)  # the safe value is always accepted
        await device.write_point("cue_text", "RESET ME")  # not an actuator
        await device.write_point("heartbeat", 9)  # does not arm while faulted
        still = rack.state
        assert not still.watchdog_armed
        await device.write_point("fault_reset", 1)
        assert await device.read_point("fault_reset") == 0  # a pulse
        cleared = rack.state
        assert cleared.fault is None
        assert await refused(device, "target_load", 20.0) == 4  # disarmed until the next beat
        await device.write_point("heartbeat", 10)
        await device.write_point("target_load", 20.0)


async def test_a_faulty_device_ignores_the_watchdog() -> None:
    async with RackEmulator(ignore_watchdog=True) as rack, connected(rack) as device:
        await device.write_point("target_load", 20.0)  # even without a heartbeat
        await device.write_point("heartbeat", 1)
        await asyncio.sleep(1.2)
        assert rack.state.fault is None
        assert rack.state.target_load_kg == 20.0


async def test_the_software_estop_latches_until_released_and_reset() -> None:
    async with RackEmulator() as rack, connected(rack) as device:
        await device.write_point("heartbeat", 1)
        await device.write_point("target_load", 40.0)
        rack.start_set("back_squat", 5)
        await device.write_point("estop", 1)
        state = rack.state
        assert (state.estop, state.fault, state.actual_load_kg, state.in_set) == (
            True,
            "estop",
            0,
            False,
        )
        assert await refused(device, "fault_reset", 1) == 4
        await device.write_point("estop", 0)
        await device.write_point("fault_reset", 1)
        assert rack.state.fault is None
        assert rack.sets[-1].ended_by == "estop"


async def test_a_stop_cue_ends_the_set_after_the_rep() -> None:
    async with RackEmulator(athlete=DEMO_ATHLETES[2]) as rack, connected(rack) as device:
        await device.write_point("watchdog_timeout", 10.0)  # long enough for the whole set
        await device.write_point("heartbeat", 1)
        rack.start_set("bench_press", reps=None)
        await asyncio.sleep(2.6)  # setup, lowering, the first press
        assert rack.state.reps_in_set == 1
        await device.write_point("cue_text", "STOP - VL 20%")
        async with asyncio.timeout(10):
            truth = await rack.wait_set()
        assert truth.ended_by == "stop cue"
        assert 1 <= len(truth.reps) <= 2
        assert rack.state.cue.text == "STOP - VL 20%"


async def test_foreign_map_layout_and_a_wrapping_counter() -> None:
    async with (
        RackEmulator(regmap=str(FOREIGN_MAP), first_sample=65536 - 50) as rack,
        connected(rack) as device,
    ):
        assert await device.check_identity() == {"model_id": "ACME-C1", "map_version": 3}
        await device.write_point("heartbeat", 1)
        await device.write_point("target_load", 30.0)
        raw = await device.read_registers(Table.HOLDING, 4200, 2)
        from equipment_adapters.modbus.codec import decode_raw
        from equipment_adapters.modbus.regmap import DataType, Encoding, Swap

        pounds = decode_raw(raw, Encoding(DataType.FLOAT32, 2, Swap.WORD))
        assert pounds == pytest.approx(30.0 / 0.45359237, rel=1e-6)
        # half a float32 is not a value
        with pytest.raises(ModbusExceptionError) as info:
            await device.link.write(Table.HOLDING, 4200, [0])
        assert info.value.code == 2
        await device.write_point("estop", True)  # a coil
        assert rack.state.fault == "estop"
        status = await device.read_point("status")
        # byte-swapped status word: fault is bit 15, e-stop bit 14
        assert int(status) >> 14 == 0b11
        await asyncio.sleep(0.2)
        head = await device.read_point(rack.fifo.sequence)
        assert int(head) < 200  # wrapped past 65535


def test_demo_athletes_by_id_or_name() -> None:
    assert find_athlete("ath-ben").name == "Ben"
    assert find_athlete("chloe").athlete_id == "ath-chloe"
    with pytest.raises(InvalidInputError, match="no demo athlete 'zed'"):
        find_athlete("zed")


async def test_unknown_identity_override_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="no identity value 'serial'"):
        RackEmulator(identity={"serial": 1})


def test_emulators_serve_loopback_only() -> None:
    with pytest.raises(InvalidInputError, match=r"'0\.0\.0\.0' is not a loopback address"):
        RackEmulator(host="0.0.0.0")
    RackEmulator(host="::1")
