"""Codec vectors built by hand from the specification tables (derivation beside each)."""

from __future__ import annotations

import numpy as np
import pytest

from equipment_adapters.ble.codecs import band, cps, csc, ftms, hrs
from equipment_adapters.errors import DecodeError

H = bytes.fromhex


def test_indoor_bike_speed_cadence_power() -> None:
    # flags 0x0044 = bit 2 (cadence) | bit 6 (power); bit 0 clear so speed is present.
    # speed 0x03E8 = 1000 x 0.01 km/h = 10 km/h; cadence 0x00B4 = 180 x 0.5 = 90 rpm;
    # power 0x00C8 = 200 W.
    d = ftms.decode_indoor_bike_data(H("4400 e803 b400 c800"))
    assert d == ftms.IndoorBikeData(
        instantaneous_speed_kmh=10.0, instantaneous_cadence_rpm=90.0, instantaneous_power_w=200
    )
    assert ftms.encode_indoor_bike_data(d) == H("4400e803b400c800")


def test_indoor_bike_resistance_both_forms() -> None:
    # flags 0x0260 = bit 5 (resistance) | bit 6 (power) | bit 9 (heart rate).
    # s16 form: speed 10 km/h, resistance 0x000F = 15, power 0x0096 = 150 W, HR 0x8C = 140.
    s16 = ftms.decode_indoor_bike_data(H("6002 e803 0f00 9600 8c"))
    assert (s16.resistance_level, s16.instantaneous_power_w, s16.heart_rate_bpm) == (15, 150, 140)
    # u8 (GSS) form, one byte shorter: resistance 0x02 x 10 = 20; "auto" tells by length.
    u8 = ftms.decode_indoor_bike_data(H("6002 e803 02 9600 8c"))
    assert u8.resistance_level == 20.0
    assert ftms.encode_indoor_bike_data(u8, ftms.FtmsProfile(resistance_form="u8")) == H(
        "6002e8030296008c"
    )
    # Forcing the s16 form on the short payload is a decode error at the HR byte.
    with pytest.raises(DecodeError) as err:
        ftms.decode_indoor_bike_data(H("6002e8030296008c"), ftms.FtmsProfile(resistance_form="s16"))
    assert (err.value.field, err.value.offset) == ("heart_rate", 8)  # 2+2+2+2: HR is byte 8


def test_indoor_bike_more_data_split_record() -> None:
    # Part 1: flags 0x0041 = More Data | power; no speed; power 0x00C8 = 200 W.
    # Part 2: flags 0x0004 = cadence; speed 10 km/h, cadence 90 rpm. Together: one record.
    first = ftms.decode_indoor_bike_data(H("4100 c800"))
    second = ftms.decode_indoor_bike_data(H("0400 e803 b400"))
    assert first.more_data
    assert first.instantaneous_speed_kmh is None
    assembler = ftms.IndoorBikeAssembler()
    assert assembler.feed(first) is None
    merged = assembler.feed(second)
    assert merged == ftms.IndoorBikeData(
        instantaneous_speed_kmh=10.0, instantaneous_cadence_rpm=90.0, instantaneous_power_w=200
    )


def test_indoor_bike_cadence_flag_inverted_quirk() -> None:
    # flags 0x0040: bit 2 clear; with the Life Fitness quirk that means cadence *present*.
    quirk = ftms.FtmsProfile(cadence_flag_inverted=True)
    d = ftms.decode_indoor_bike_data(H("4000 e803 b400 c800"), quirk)
    assert d.instantaneous_cadence_rpm == 90.0
    assert d.instantaneous_power_w == 200
    assert ftms.encode_indoor_bike_data(d, quirk) == H("4000e803b400c800")
    # Without the quirk the same bytes are two bytes too long.
    with pytest.raises(DecodeError, match="trailing"):
        ftms.decode_indoor_bike_data(H("4000 e803 b400 c800"))


def test_indoor_bike_energy_not_available() -> None:
    # flags 0x0100 = expended energy: total 0xFFFF, per hour 0xFFFF, per minute 0xFF = n/a.
    d = ftms.decode_indoor_bike_data(H("0001 e803 ffff ffff ff"))
    assert d.expended_energy_present
    assert d.total_energy_kcal is None
    assert ftms.encode_indoor_bike_data(d) == H("0001e803ffffffffff")


def test_feature_and_ranges() -> None:
    # machine 0x00004002 = bit 1 cadence | bit 14 power; target 0x00002008 = bit 3 power
    # target | bit 13 indoor bike simulation.
    f = ftms.decode_feature(H("02400000 08200000"))
    assert f.machine == ftms.MachineFeature.CADENCE | ftms.MachineFeature.POWER_MEASUREMENT
    assert ftms.TargetSettingFeature.POWER_TARGET in f.target
    assert ftms.TargetSettingFeature.INDOOR_BIKE_SIMULATION in f.target
    # power range: min 0, max 0x03E8 = 1000 W, increment 5 W.
    assert ftms.decode_power_range(H("0000 e803 0500")) == ftms.PowerRange(0, 1000, 5)
    # resistance XML form: 0 .. 0x03E8 x 0.1 = 100.0, increment 0x000A x 0.1 = 1.0.
    xml = ftms.decode_resistance_range(H("0000 e803 0a00"))
    assert (xml.minimum, xml.maximum, xml.increment, xml.form) == (0.0, 100.0, 1.0, "s16")
    # GSS form: three u8 x 10: 0, 0x0A -> 100, 0x01 -> 10.
    gss = ftms.decode_resistance_range(H("000a01"))
    assert (gss.maximum, gss.increment, gss.form) == (100.0, 10.0, "u8")
    assert ftms.encode_resistance_range(gss) == H("000a01")
    assert ftms.encode_resistance_range(xml) == H("0000e8030a00")


def test_control_point_requests_and_responses() -> None:
    # 0x05 set target power, s16 0x00C8 = 200 W.
    req = ftms.decode_control_point(H("05 c800"))
    assert isinstance(req, ftms.ControlRequest)
    assert req == ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (200.0,))
    assert ftms.encode_control_request(req) == H("05c800")
    # 0x11 simulation: wind 0, grade 0x012C = 300 x 0.01 = 3 %, Crr 0x28 = 40 x 0.0001,
    # Cw 0x33 = 51 x 0.01 kg/m.
    sim = ftms.decode_control_point(H("11 0000 2c01 28 33"))
    assert isinstance(sim, ftms.ControlRequest)
    assert sim.params == {"wind_speed_ms": 0.0, "grade_pct": 3.0, "crr": 0.004, "cw_kg_per_m": 0.51}
    # 0x04 resistance: u8 0x96 = 150 x 0.1 = 15.0; the s16 form 0x0096 reads the same.
    assert ftms.decode_control_point(H("04 96")) == ftms.ControlRequest(
        ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL, (15.0,)
    )
    s16 = ftms.FtmsProfile(cp_resistance_s16=True)
    assert ftms.encode_control_request(
        ftms.ControlRequest(ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL, (15.0,)), s16
    ) == H("049600")
    # response: 0x80, request op 0x05, result 0x01 success.
    assert ftms.decode_control_point(H("80 05 01")) == ftms.ControlResponse(
        ftms.ControlOp.SET_TARGET_POWER, ftms.ResultCode.SUCCESS
    )
    # single-byte response quirk: 0x80 alone is success of the procedure in flight.
    with pytest.raises(DecodeError) as err:
        ftms.decode_control_point(H("80"))
    assert (err.value.field, err.value.offset) == ("request_op_code", 1)
    quirk = ftms.FtmsProfile(single_byte_cp_response=True)
    assert ftms.decode_control_point(H("80"), quirk) == ftms.ControlResponse(
        None, ftms.ResultCode.SUCCESS
    )


def test_status_and_training_status() -> None:
    # 0x08 target power changed, s16 200 W; 0xFF control permission lost, no parameter.
    assert ftms.decode_status(H("08 c800")).params == {"target_power_w": 200.0}
    assert ftms.decode_status(H("ff")).op is ftms.StatusOp.CONTROL_PERMISSION_LOST
    # training status: flags 0x01 (string present), status 0x0C watt control, "ERG".
    t = ftms.decode_training_status(H("01 0c 455247"))
    assert t == ftms.TrainingStatus(ftms.TrainingStatusCode.WATT_CONTROL, "ERG")
    assert ftms.encode_training_status(t) == H("010c455247")


def test_heart_rate_measurement() -> None:
    # flags 0x16 = contact bits 11 (contact) | bit 4 RR; HR 0x4A = 74 bpm; RR 0x0400 = 1024
    # x 1/1024 s = 1000 ms.
    m = hrs.decode_heart_rate(H("16 4a 0004"))
    assert m.heart_rate_bpm == 74
    assert m.sensor_contact is hrs.SensorContact.CONTACT
    assert m.rr_intervals == (1024,)
    assert m.rr_ms.tolist() == [1000.0]
    # flags 0x09 = u16 HR | energy: HR 0x0048 = 72, energy 0x1234 = 4660 kJ; no contact info.
    m2 = hrs.decode_heart_rate(H("09 4800 3412"))
    assert (m2.heart_rate_bpm, m2.energy_expended_kj) == (72, 4660)
    assert m2.sensor_contact is hrs.SensorContact.NOT_SUPPORTED
    # contact bits 10: supported, no contact.
    assert hrs.decode_heart_rate(H("04 50")).sensor_contact is hrs.SensorContact.NO_CONTACT
    # an odd byte after the RR intervals names the RR field and its offset.
    with pytest.raises(DecodeError) as err:
        hrs.decode_heart_rate(H("10 4a 0004 01"))
    assert (err.value.field, err.value.offset) == ("rr_interval", 4)


def test_cycling_power_measurement() -> None:
    # flags 0x0030 = wheel (bit 4) | crank (bit 5); power 0x00FA = 250 W; wheel revs 16,
    # wheel time 0x0800 = 2048 x 1/2048 s = 1 s; crank revs 5, crank time 0x0400 = 1 s.
    m = cps.decode_cycling_power(H("3000 fa00 10000000 0008 0500 0004"))
    assert m.instantaneous_power_w == 250
    assert (m.cumulative_wheel_revolutions, m.last_wheel_event_time_s) == (16, 1.0)
    assert (m.cumulative_crank_revolutions, m.last_crank_event_time_s) == (5, 1.0)
    # flags 0x0005 = balance | torque; balance 0x64 = 100 x 0.5 % = 50 %; torque 0x0040 =
    # 64 x 1/32 = 2 N m.
    m2 = cps.decode_cycling_power(H("0500 6400 64 4000"))
    assert (m2.pedal_power_balance_pct, m2.accumulated_torque_nm) == (50.0, 2.0)
    assert cps.encode_cycling_power(m2) == H("05006400644000")


def test_csc_measurement_and_cadence_wraparound() -> None:
    # flags 0x03: wheel revs 10, time 0x0400 = 1 s; crank revs 5, time 0x0800 = 2 s.
    m = csc.decode_csc(H("03 0a000000 0004 0500 0008"))
    assert (m.cumulative_wheel_revolutions, m.last_crank_event_time_s) == (10, 2.0)
    cadence = csc.CrankCadence()
    assert cadence.feed(65535, 63.5) is None
    # one revolution later, counter wrapped 65535 -> 0 and time 63.5 s -> 0.25 s (wrapped at
    # 64 s): 1 rev in 0.75 s = 80 rpm.
    assert cadence.feed(0, 0.25) == pytest.approx(80.0)
    assert cadence.feed(0, 0.25) is None  # first repeat: no new event yet
    assert cadence.feed(0, 0.25) == 0.0  # second repeat: the rider stopped


def test_band_samples_vector() -> None:
    # header: version 1, count 1, seq 7, t0 0x000F4240 = 1e6 us = 1 s, period 0x2710 =
    # 10000 us = 10 ms. sample: tension 0x01F4 = 500 x 0.1 N = 50 N; accel (0, 0, 0x03D5 =
    # 981 x 0.01 = 9.81 m/s^2); gyro (0x0064 = 100 x 0.001 = 0.1 rad/s, 0, 0xFF9C = -0.1).
    payload = H("01 01 0700 40420f00 1027 f401 0000 0000 d503 6400 0000 9cff")
    b = band.decode_band_samples(payload)
    assert (b.sequence, b.t0_s, b.period_s, len(b)) == (7, 1.0, 0.01, 1)
    assert b.tension_n.tolist() == [50.0]
    np.testing.assert_allclose(b.accel_ms2, [[0.0, 0.0, 9.81]])
    np.testing.assert_allclose(b.gyro_rads, [[0.1, 0.0, -0.1]])
    assert (
        band.encode_band_samples(
            7, 1.0, 0.01, tension_n=[50.0], accel_ms2=[[0, 0, 9.81]], gyro_rads=[[0.1, 0, -0.1]]
        )
        == payload
    )
    with pytest.raises(DecodeError) as err:
        band.decode_band_samples(payload[:-3])
    assert err.value.field == "sample[0]"
    assert err.value.offset == 10
    assert band.decode_band_cue(H("04 03 f401")) == band.BandCue("red", 3, 500)


@pytest.mark.parametrize(
    ("header", "field", "offset"),
    [
        ("01 00 0700 40420f00 1027", "count", 1),  # no samples: the profile says 1-255
        ("01 01 0700 40420f00 0000", "period", 8),  # samples with no time between them
    ],
)
def test_band_batches_the_profile_forbids_are_refused(header: str, field: str, offset: int) -> None:
    payload = H(header) + (b"\x00" * 14 if field == "period" else b"")
    with pytest.raises(DecodeError) as err:
        band.decode_band_samples(payload)
    assert (err.value.field, err.value.offset) == (field, offset)
    with pytest.raises(ValueError, match=r"1\.\.255"):
        band.encode_band_samples(0, 0.0, 0.01, tension_n=[], accel_ms2=[], gyro_rads=[])
    with pytest.raises(ValueError, match="period"):
        band.encode_band_samples(0, 0.0, 0.0, tension_n=[1], accel_ms2=[0] * 3, gyro_rads=[0] * 3)
