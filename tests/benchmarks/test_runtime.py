"""The runtime benchmark runs end to end (figures are not judged here: no timed asserts)."""

from __future__ import annotations

import json

import pytest

from benchmarks import runtime


async def test_the_benchmark_runs_and_reports_ratios() -> None:
    result = await runtime.run(bus_events=2_000, reps=500, mqtt_events=50)
    data = result.to_json()
    assert data["bus"]["events"] == 2_000
    assert data["store"]["reps"] == 500
    assert data["mqtt"]["events"] == 50
    for key, ratio in (
        ("bus", "ratio_vs_deques"),
        ("store", "ratio_vs_executemany"),
        ("mqtt", "ratio_vs_aiomqtt"),
    ):
        assert data[key][ratio] > 0
    json.dumps(data)


def test_the_command_line_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert runtime.main(["--json", "--quick", "--no-mqtt"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mqtt"] is None
    assert data["store"]["reps"] == 5_000
