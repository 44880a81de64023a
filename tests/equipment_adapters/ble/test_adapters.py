"""The adapters' unmodified bleak code against emulated peripherals on bumble."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError

from equipment_adapters.base import (
    ControlLost,
    CueColour,
    DeviceCue,
    EnterSafeState,
    LinkState,
    LoadUnit,
    SetLoad,
    SetMode,
    ShowCue,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble import (
    BandAdapter,
    DeviceMatch,
    FtmsBikeAdapter,
    HrStrapAdapter,
    PowerMeterAdapter,
    SpeedCadenceAdapter,
    VirtualAir,
    uuids,
)
from equipment_adapters.ble.codecs import ftms
from equipment_adapters.ble.ftms_bike import quantise
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.band import BandEmulator
from equipment_adapters.emulators.bike import BikeEmulator, BikeQuirks
from equipment_adapters.emulators.ble_station import BleStationKit
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.emulators.imu_motion import RepSpec
from equipment_adapters.emulators.power_meter import PowerMeterEmulator
from equipment_adapters.errors import (
    AttError,
    ControlPointError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    UnsupportedCommandError,
)
from kernels.imu_reps import ImuRepDetector
from kernels.reps import RepMetrics
from tests.equipment_adapters.ble.conftest import FAST, Recorder, eventually


def bike_adapter(air: VirtualAir, recorder: Recorder, **kwargs: object) -> FtmsBikeAdapter:
    return FtmsBikeAdapter(
        device_id="bike-1",
        on_batch=recorder.batch,
        on_event=recorder.event,
        backend=air.backend,
        match=DeviceMatch(service_uuid=uuids.FTMS_SERVICE, name="Bike 1"),
        options=FAST,
        seed=1,
        **kwargs,  # type: ignore[arg-type]
    )


def is_started(bike: BikeEmulator) -> bool:
    """Read through a call, so the type checker does not carry narrowing across awaits."""
    return bike.state.started


def test_quantise_clamps_and_snaps() -> None:
    assert quantise(203.0, 0, 1000, 5) == 205.0
    assert quantise(2000.0, 0, 1000, 5) == 1000.0
    assert quantise(-10.0, 25, 1000, 5) == 25.0
    assert quantise(1003.0, 1, 1003, 5) == 1001.0  # the grid from the minimum, within range


async def test_bike_connects_takes_control_and_holds_erg(
    air: VirtualAir, recorder: Recorder
) -> None:
    async with BikeEmulator(
        air, name="Bike 1", power_range=ftms.PowerRange(25, 1000, 5), tick_s=0.05, time_scale=20.0
    ) as bike:
        async with bike_adapter(air, recorder) as adapter:
            assert adapter.link is LinkState.CONNECTED
            assert adapter.has_control
            assert bike.controller is not None
            assert is_started(bike)
            caps = adapter.capabilities
            assert caps.load is not None
            assert (caps.load.unit, caps.load.minimum, caps.load.maximum, caps.load.increment) == (
                LoadUnit.WATT,
                25.0,
                1000.0,
                5.0,
            )
            await adapter.apply(SetLoad(203.0))
            assert bike.state.mode == "erg"
            assert bike.state.target_power_w == 205.0  # quantised to the 5 W increment
            await eventually(
                lambda: (
                    recorder.channel(Channel.POWER)
                    and recorder.channel(Channel.POWER)[-1].values[0] == 205.0
                )
            )
            await adapter.apply(SetLoad(5000.0))
            assert bike.state.target_power_w == 1000.0  # clamped to the range
            assert {Channel.CADENCE, Channel.SPEED, Channel.HEART_RATE} <= {
                b.channel for b in recorder.batches
            }
            await adapter.set_target_resistance(12.34)
            assert bike.state.mode == "resistance"
            assert bike.state.resistance_level == pytest.approx(12.3)
            await adapter.set_simulation(4.0)
            assert bike.state.grade_pct == pytest.approx(4.0)
            with pytest.raises(UnsupportedCommandError):
                await adapter.apply(SetMode.__new__(SetMode))
            await adapter.apply(EnterSafeState())
            assert not bike.state.started
            assert bike.state.target_power_w == 0.0
        # leaving the adapter stops the bike and gives control back (disconnect)
        await eventually(lambda: bike.controller is None)


async def test_reconnects_after_dropout_and_requests_control_again(
    air: VirtualAir, recorder: Recorder
) -> None:
    async with (
        BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        await adapter.apply(SetLoad(180.0))
        assert adapter.control_requests == 1
        await bike.disconnect()  # the bike drops the link mid-session
        assert bike.state.target_power_w == 0.0  # the emulator's own safe state
        await eventually(lambda: adapter.connections == 2 and adapter.link is LinkState.CONNECTED)
        assert adapter.control_requests == 2
        await eventually(lambda: bike.state.target_power_w == 180.0)  # ERG target restored
        assert bike.state.started
        assert recorder.links().count(LinkState.CONNECTED) == 2
        assert LinkState.DISCONNECTED in recorder.links()


async def test_control_permission_lost_is_re_requested(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        await adapter.apply(SetLoad(150.0))
        await bike.revoke_control()
        await eventually(lambda: any(isinstance(e, ControlLost) for e in recorder.events))
        await eventually(lambda: adapter.control_requests == 2 and bike.controller is not None)
        await adapter.apply(SetLoad(160.0))
        assert bike.state.target_power_w == 160.0


async def test_pairs_when_the_bike_requires_encryption(air: VirtualAir, recorder: Recorder) -> None:
    quirks = BikeQuirks(require_encryption=True)
    async with (
        BikeEmulator(air, name="Bike 1", quirks=quirks, tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        assert adapter.has_control
        assert bike.connections[0].is_encrypted
        await adapter.apply(SetLoad(100.0))
        assert bike.state.target_power_w == 100.0


async def test_quirky_bike_single_byte_responses_split_records(
    air: VirtualAir, recorder: Recorder
) -> None:
    quirks = BikeQuirks(
        single_byte_cp_response=True,
        resistance_form="u8",
        cadence_flag_inverted=True,
        split_records=True,
    )
    profile = ftms.FtmsProfile(
        single_byte_cp_response=True, cadence_flag_inverted=True, resistance_form="u8"
    )
    async with (
        BikeEmulator(air, name="Bike 1", quirks=quirks, tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder, profile=profile) as adapter,
    ):
        await adapter.apply(SetLoad(140.0))
        assert bike.state.target_power_w == 140.0
        await eventually(lambda: len(recorder.channel(Channel.CADENCE)) >= 3)
        cadence = recorder.channel(Channel.CADENCE)[-1].values[0]
        assert 60 < cadence < 110
        # split records were joined: each record gives one power and one cadence sample
        assert (
            abs(len(recorder.channel(Channel.POWER)) - len(recorder.channel(Channel.CADENCE))) <= 1
        )


async def test_bike_rejecting_u8_resistance_gets_s16(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BikeEmulator(
            air,
            name="Bike 1",
            quirks=BikeQuirks(rejects_u8_resistance=True),
            tick_s=0.05,
            time_scale=20.0,
        ) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        await adapter.set_target_resistance(7.5)  # u8 rejected, retried as s16
        assert bike.state.resistance_level == 7.5
        await adapter.set_target_resistance(9.0)  # now s16 straight away
        assert bike.state.resistance_level == 9.0
        sizes = [
            len(p)
            for p in bike.state.payloads
            if p[0] == ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL
        ]
        assert sizes == [2, 3, 3]  # u8 (rejected), then s16, s16


async def test_att_errors_surface_as_project_errors(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        client = adapter.client
        await client.stop_notify(uuids.FTMS_CONTROL_POINT)  # indications off: 0xFD
        with pytest.raises(AttError) as err:
            await adapter.set_target_power(100.0)
        assert err.value.code == 0xFD
        assert "CCCD" in str(err.value)
        await client.start_notify(uuids.FTMS_CONTROL_POINT, adapter._on_control_point)
        # a second write while a procedure is in flight: 0xFE
        bike.response_delay_s = 0.3
        await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x07", response=True)
        with pytest.raises(BleakGATTProtocolError) as busy:
            await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, b"\x07", response=True)
        assert busy.value.code == 0xFE
        await asyncio.sleep(0.4)
        bike.response_delay_s = 0.0
        # a procedure the bike refuses: the result code comes back as ControlPointError
        with pytest.raises(ControlPointError) as refused:
            await adapter._procedure(
                client, ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (2000.0,))
            )
        assert refused.value.code == ftms.ResultCode.INVALID_PARAMETER


async def test_no_device_reports_unavailable_and_keeps_trying(
    air: VirtualAir, recorder: Recorder
) -> None:
    async with bike_adapter(air, recorder) as adapter:
        assert adapter.link is LinkState.DISCONNECTED
        with pytest.raises(DeviceUnavailableError):
            await adapter.apply(SetLoad(100.0))
        async with BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0):
            await eventually(lambda: adapter.link is LinkState.CONNECTED, within=8.0)


async def test_stale_data_reconnects_on_a_fresh_client(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder) as adapter,
    ):
        first_client = adapter.client
        bike.tick_s = 1000.0  # the bike keeps the link but stops notifying...
        await eventually(
            lambda: any("no data" in getattr(e, "reason", "") for e in recorder.events), within=6.0
        )
        bike.tick_s = 0.05
        await eventually(
            lambda: adapter.connections >= 2 and adapter.link is LinkState.CONNECTED, within=8.0
        )
        assert adapter.client is not first_client


async def test_hr_strap_delivers_hr_and_rr(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        HrStrapEmulator(
            air, name="HR 1", drive_rider=True, power_w=150.0, tick_s=0.05, time_scale=20.0
        ) as strap,
        HrStrapAdapter(
            device_id="hr-1",
            on_batch=recorder.batch,
            on_event=recorder.event,
            backend=air.backend,
            options=FAST,
        ) as adapter,
    ):
        await eventually(lambda: len(recorder.channel(Channel.RR)) >= 5)
        assert adapter.capabilities.channels == {Channel.HEART_RATE, Channel.RR}
    rr = np.concatenate([b.values for b in recorder.channel(Channel.RR)])
    sent = np.array(strap.sent_rr) * 1000.0 / 1024.0
    # the RR intervals received are a contiguous run of those the strap sent, in order
    starts = [
        i
        for i in range(sent.shape[0] - rr.shape[0] + 1)
        if np.allclose(sent[i : i + rr.shape[0]], rr)
    ]
    assert starts, "received RR intervals are not a run of the sent ones"
    hr = recorder.channel(Channel.HEART_RATE)[-1].values[0]
    assert 40 < hr < 200
    seqs = [b.seq or 0 for b in recorder.channel(Channel.RR)]
    assert seqs == sorted(seqs)


async def test_power_meter_and_speed_cadence(air: VirtualAir, recorder: Recorder) -> None:
    # one central holds one connection per peripheral, so each adapter gets its own sensor
    async with (
        PowerMeterEmulator(
            air, name="PM 1", power_w=210.0, crank_revolutions=65530, tick_s=0.05, time_scale=20.0
        ) as meter,
        PowerMeterEmulator(air, name="CSC 1", tick_s=0.05, time_scale=20.0),
        PowerMeterAdapter(
            device_id="pm-1",
            on_batch=recorder.batch,
            backend=air.backend,
            options=FAST,
            match=DeviceMatch(uuids.CYCLING_POWER_SERVICE, "PM 1"),
        ),
        SpeedCadenceAdapter(
            device_id="csc-1",
            on_batch=recorder.batch,
            backend=air.backend,
            options=FAST,
            match=DeviceMatch(uuids.CSC_SERVICE, "CSC 1"),
        ),
    ):
        await eventually(
            lambda: (
                len([b for b in recorder.channel(Channel.CADENCE) if b.device_id == "pm-1"]) >= 8
            ),
            within=8.0,
        )
        await eventually(lambda: len(recorder.channel(Channel.SPEED)) >= 3, within=8.0)
        assert int(meter.crank_revolutions) > 65536  # the u16 counter wrapped during the test
    power = [b.values[0] for b in recorder.channel(Channel.POWER)]
    assert power[-1] == 210.0
    cadences = [b.values[0] for b in recorder.channel(Channel.CADENCE) if b.device_id == "pm-1"]
    nonzero = [c for c in cadences if c > 0]
    assert nonzero
    assert 70 < float(np.median(nonzero)) < 100
    speed = recorder.channel(Channel.SPEED)[-1].values[0]
    assert 20 < speed < 40  # 85 rpm x 0.36 km/h per rpm


async def test_band_batches_and_cue(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BandEmulator(air, name="Band 1", tick_s=0.05, time_scale=2.0) as band_emulator,
        BandAdapter(
            device_id="band-1",
            on_batch=recorder.batch,
            on_event=recorder.event,
            backend=air.backend,
            options=FAST,
        ) as adapter,
    ):
        band_emulator.queue_reps([RepSpec(0.8)])
        await eventually(lambda: adapter.samples >= 300, within=8.0)
        await adapter.apply(ShowCue(DeviceCue(colour=CueColour.GREEN, haptic_pulses=2)))
        await eventually(lambda: band_emulator.cues != [])
        assert band_emulator.cues[-1].colour == "green"
        assert band_emulator.cues[-1].haptic_pulses == 2
        with pytest.raises(UnsupportedCommandError):
            await adapter.apply(SetLoad(10.0))
    imu = recorder.channel(Channel.IMU)
    tension = recorder.channel(Channel.TENSION)
    assert imu[0].values.shape[1] == 6
    assert sum(len(b) for b in imu) == sum(len(b) for b in tension)
    assert adapter.lost_samples == 0
    # consecutive batches are contiguous in device time and sequence
    for a, b in itertools.pairwise(imu):
        assert b.t0 == pytest.approx(a.t_end, abs=1e-5)
        assert b.seq == ((a.seq or 0) + len(a)) & 0xFFFF
    gravity = np.linalg.norm(imu[0].values[:, :3], axis=1).mean()
    assert gravity == pytest.approx(9.81, abs=0.1)


async def test_band_set_through_ble_into_the_imu_rep_detector(
    air: VirtualAir, recorder: Recorder
) -> None:
    """The whole band path: emulated reps -> notifications -> batches -> rep detector."""
    detector: ImuRepDetector | None = None
    reps: list[RepMetrics] = []

    def on_batch(batch: SampleBatch) -> None:
        nonlocal detector
        if batch.channel is Channel.IMU:
            if detector is None:
                detector = ImuRepDetector(1.0 / batch.period, t0=batch.t0)
            reps.extend(detector.feed(batch.values))

    async with (
        BandEmulator(air, name="Band 1", tick_s=0.05, time_scale=8.0) as band_emulator,
        BandAdapter(device_id="band-1", on_batch=on_batch, backend=air.backend, options=FAST),
    ):
        performed = band_emulator.perform_set("back_squat", 100.0, 4)
        await band_emulator.wait_idle()
        await eventually(lambda: len(reps) == len(performed), within=8.0)
    assert len(performed) == 4
    for rep, truth in zip(reps, performed, strict=True):
        assert rep.mean_velocity_ms == pytest.approx(truth.mean_velocity_ms, rel=0.08)


async def test_station_kit_serves_three_adapters_on_one_air(air: VirtualAir) -> None:
    """The demo's shape: a bike, a strap and a band per athlete, adapters matching by name."""
    recorder = Recorder()
    async with (
        BleStationKit(air, DEMO_ATHLETES[0], label="S1", time_scale=20.0) as kit,
        BleStationKit(air, DEMO_ATHLETES[1], label="S2", time_scale=20.0),
        FtmsBikeAdapter(
            device_id="s1-bike",
            on_batch=recorder.batch,
            match=kit.bike_match,
            backend=air.backend,
            options=FAST,
        ) as bike,
        HrStrapAdapter(
            device_id="s1-hr",
            on_batch=recorder.batch,
            match=kit.strap_match,
            backend=air.backend,
            options=FAST,
        ),
        BandAdapter(
            device_id="s1-band",
            on_batch=recorder.batch,
            match=kit.band_match,
            backend=air.backend,
            options=FAST,
        ),
    ):
        await bike.apply(SetLoad(150.0))
        assert kit.bike.state.target_power_w == 150.0
        await eventually(
            lambda: {b.device_id for b in recorder.batches} == {"s1-bike", "s1-hr", "s1-band"}
        )
    assert bike.capabilities.model == "S1 Bike"


async def test_control_procedure_times_out(air: VirtualAir, recorder: Recorder) -> None:
    async with (
        BikeEmulator(air, name="Bike 1", tick_s=0.05, time_scale=20.0) as bike,
        bike_adapter(air, recorder, control_timeout_s=0.2) as adapter,
    ):
        bike.response_delay_s = 0.5  # the bike answers after the adapter gave up
        with pytest.raises(DeviceTimeoutError, match="set_target_power"):
            await adapter.apply(SetLoad(120.0))
        await asyncio.sleep(0.5)
        bike.response_delay_s = 0.0
        await adapter.apply(SetLoad(130.0))  # the next procedure works again
        assert bike.state.target_power_w == 130.0


async def test_band_cue_write_errors(air: VirtualAir) -> None:
    async with BandEmulator(air, name="Band 1") as band_emulator:
        device = await BleakScanner.find_device_by_name(
            "Band 1", timeout=1.0, backend=air.scanner_class
        )
        assert device is not None
        async with BleakClient(device, backend=air.client_class) as client:
            with pytest.raises(BleakGATTProtocolError) as length:
                await client.write_gatt_char(uuids.BAND_CUE, b"\x01", response=True)
            assert length.value.code == 0x0D
            with pytest.raises(BleakGATTProtocolError) as colour:
                await client.write_gatt_char(uuids.BAND_CUE, b"\x09\x00\x00\x00", response=True)
            assert colour.value.code == 0x13
    assert band_emulator.cues == []
