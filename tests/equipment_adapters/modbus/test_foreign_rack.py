"""Another maker's rack, described only by its own map file (tests/.../maps/foreign-rack.toml).

Nothing in the adapter, the emulator or the conformance check knows this device: float32
values in little word order, loads in pounds, millimetres, kilogram-force, a 16-bit sample
counter that wraps, coils for the e-stop and the reset, a one-sided cable.
"""

from __future__ import annotations

import numpy as np
import pytest

from equipment_adapters.base import (
    DeviceCue,
    EstopButton,
    LinkState,
    ModeKind,
    ResetFault,
    ResistanceMode,
    SetLoad,
    SetMode,
    ShowCue,
)
from equipment_adapters.batch import Channel
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.errors import UnsupportedCommandError
from equipment_adapters.modbus.conformance import Verdict, check_device
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map
from tests.equipment_adapters.modbus.conftest import FAST, FOREIGN_MAP, Recorder, adapter_for


async def test_foreign_rack_end_to_end() -> None:
    recorder = Recorder()
    regmap = load_map(FOREIGN_MAP)
    athlete = DEMO_ATHLETES[3]
    async with (
        RackEmulator(regmap=regmap, athlete=athlete, first_sample=65536 - 300) as rack,
        adapter_for(rack, recorder, name="acme") as adapter,
    ):
        capabilities = adapter.capabilities
        assert capabilities.sides == 1
        assert capabilities.channels == frozenset({Channel.POSITION, Channel.FORCE})
        assert capabilities.load is not None
        assert capabilities.load.maximum == 90
        await adapter.apply(SetLoad(30.0))
        await adapter.apply(SetMode(ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=12.5)))
        with pytest.raises(UnsupportedCommandError, match="no chains mode"):
            await adapter.apply(SetMode(ResistanceMode(ModeKind.CHAINS, chains_kg_per_m=5)))
        with pytest.raises(UnsupportedCommandError):
            await adapter.apply(SetMode(ResistanceMode(ModeKind.SPOTTER)))
        await adapter.apply(ShowCue(DeviceCue(text="ignored: no text display", number=-12.25)))
        state = rack.state
        assert state.target_load_kg == pytest.approx(30.0)
        assert (state.mode, state.eccentric_pct) == ("eccentric", 12.5)
        assert state.cue.number == -12.25
        rack.start_set("back_squat", reps=1)
        # the counter wraps at 65536 during this: no gap, no repeat
        await recorder.wait_for(lambda: recorder.samples(Channel.POSITION) >= 1500, within=8)
        await adapter.apply(SetMode(ResistanceMode(ModeKind.STANDARD)))
        rack.press_estop()
        await recorder.wait_for(lambda: bool(recorder.of(EstopButton)))
        assert adapter.link is LinkState.FAULT
        rack.release_estop()
        await adapter.apply(ResetFault())  # a coil
        await recorder.wait_for(lambda: adapter.link is LinkState.CONNECTED)
    assert recorder.gaps() == []
    assert recorder.assert_contiguous(Channel.FORCE) >= 1500
    positions = recorder.channel(Channel.POSITION)
    assert positions[0].period == pytest.approx(1 / 500)
    assert positions[-1].seq is not None
    assert positions[-1].seq > 65536  # numbered past the wrap
    trace = np.concatenate([b.values for b in positions])
    rom = athlete.lift("back_squat").rom_m
    assert np.ptp(trace) == pytest.approx(rom, abs=0.01)  # millimetres became metres
    forces = np.concatenate([b.values for b in recorder.channel(Channel.FORCE)])
    assert np.max(forces) > 30 * 9.80665  # kilogram-force became newtons


async def test_foreign_rack_passes_the_conformance_check() -> None:
    regmap = load_map(FOREIGN_MAP)
    async with RackEmulator(regmap=regmap) as rack:
        report = await check_device(regmap, TcpEndpoint("127.0.0.1", rack.port), fifo_seconds=1.0)
    failed = [r for r in report.results if r.verdict is Verdict.FAIL]
    assert failed == []
    names = {r.name for r in report.results}
    assert {"identity", "write target_load", "e-stop", "watchdog", "fifo continuity"} <= names
    target = next(r for r in report.results if r.name == "write target_load")
    assert "accepted 0, 90 kg" in target.detail
    assert "refused" in target.detail


async def test_the_unit_id_of_the_site_config_overrides_the_map() -> None:
    from equipment_adapters.modbus.rack import RackAdapter

    recorder = Recorder()
    async with RackEmulator(unit_id=5) as rack:  # a reference rack set to address 5

        def adapter(unit_id: int | None) -> RackAdapter:
            return RackAdapter(
                device_id="rr",
                regmap=rack.regmap,
                endpoint=TcpEndpoint("127.0.0.1", rack.port),
                on_batch=recorder.on_batch,
                on_event=recorder.on_event,
                unit_id=unit_id,
                options=FAST,
            )

        async with adapter(None) as wrong:  # the map says 1: nobody answers as 1
            assert not wrong.connected
        async with adapter(5) as right:
            assert right.connected
            assert right.unit_id == 5
    with pytest.raises(ValueError, match="not a Modbus device address"):
        adapter(300)
