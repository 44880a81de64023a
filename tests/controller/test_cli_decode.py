from __future__ import annotations

import json

import pytest

from controller.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["decode", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_indoor_bike_json_has_flags_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "indoor_bike_data", "44 00 e8 03 b4 00 c8 00", "--json")
    assert code == 0
    obj = json.loads(out)
    assert obj["flags"]["set"] == ["instantaneous_cadence", "instantaneous_power"]
    assert obj["instantaneous_speed_kmh"] == 10.0
    assert obj["instantaneous_cadence_rpm"] == 90.0
    assert obj["instantaneous_power_w"] == 200
    assert "average_speed_kmh" not in obj
    assert "resistance_level" not in obj


def test_control_point_response_and_request(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "ftms_control_point", "800501", "--json")
    assert json.loads(out) == {
        "op": "response",
        "request_op": "set_target_power",
        "result": "success",
    }
    _, out, _ = run(capsys, "ftms_control_point", "0x05c800", "--json")
    assert json.loads(out) == {"op": "set_target_power", "target_power_w": 200}


def test_heart_rate_fields(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "heart_rate_measurement", "16:4a:00:04:00:02", "--json")
    obj = json.loads(out)
    assert obj["heart_rate_bpm"] == 74
    assert obj["sensor_contact"] == "contact"
    assert obj["rr_intervals_ms"] == [1000.0, 500.0]
    assert "energy_expended_kj" not in obj


def test_power_measurement_fields(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "cycling_power_measurement", "3000fa00100000000008050000 04", "--json")
    obj = json.loads(out)
    assert obj["instantaneous_power_w"] == 250
    assert obj["last_wheel_event_time_s"] == 1.0
    assert obj["cumulative_crank_revolutions"] == 5
    assert "pedal_power_balance_pct" not in obj


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "fitness_machine_status", "ff")
    assert code == 0
    assert "control_permission_lost" in out


def test_malformed_payload_exits_2_naming_field_and_offset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "indoor_bike_data", "4400e803b4", "--json")
    assert code == 2
    assert out == ""
    assert "instantaneous_cadence" in err
    assert "byte 4" in err
    assert "Traceback" not in err


def test_bad_hex_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "csc_measurement", "0g")
    assert code == 2
    assert "hex digit" in err
    code, _, err = run(capsys, "csc_measurement", "012")
    assert code == 2
    assert "odd number" in err
