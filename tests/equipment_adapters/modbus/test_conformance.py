"""The conformance check passes a conforming rack and fails each way a rack can be wrong."""

from __future__ import annotations

from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.modbus.conformance import ConformanceReport, Verdict, check_device
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map


def verdicts(report: ConformanceReport) -> dict[str, Verdict]:
    return {r.name: r.verdict for r in report.results}


async def test_the_reference_emulator_conforms() -> None:
    regmap = load_map("reference-rack")
    async with RackEmulator(regmap=regmap) as rack:
        rack.start_set("back_squat", reps=2)  # somebody lifting does not disturb the FIFO
        report = await check_device(regmap, TcpEndpoint("127.0.0.1", rack.port), fifo_seconds=1.5)
        state = rack.state
    assert report.passed, [r for r in report.results if r.verdict is Verdict.FAIL]
    names = verdicts(report)
    expected = {"connect", "identity", "block reads", "e-stop", "watchdog", "fifo continuity"}
    expected |= {f"read {p}" for p in [*regmap.points, "model_id", "map_version"]}
    expected |= {
        f"write {p.name}"
        for p in regmap.points.values()
        if p.writable and p.name not in ("estop", "fault_reset")
    }
    assert set(names) == expected
    assert all(v is Verdict.PASS for v in names.values())
    fifo = next(r for r in report.results if r.name == "fifo continuity")
    assert "none lost or repeated" in fifo.detail
    # the check leaves the rack in its safe state
    assert (state.target_load_kg, state.mode, state.cue.text) == (0, "standard", "")
    json = report.to_json()
    assert json["passed"] is True
    assert len(json["checks"]) == len(report.results)


async def test_a_rack_that_ignores_the_watchdog_fails() -> None:
    regmap = load_map("reference-rack")
    async with RackEmulator(regmap=regmap, ignore_watchdog=True) as rack:
        report = await check_device(regmap, TcpEndpoint("127.0.0.1", rack.port), fifo_seconds=0.5)
    assert not report.passed
    failed = {r.name: r.detail for r in report.results if r.verdict is Verdict.FAIL}
    assert set(failed) == {"watchdog"}
    assert "resistance still 20 kg" in failed["watchdog"]
    assert "no fault latched" in failed["watchdog"]


async def test_a_rack_of_another_model_gets_no_write() -> None:
    regmap = load_map("reference-rack")
    async with RackEmulator(regmap=regmap, identity={"map_version": 2}) as rack:
        report = await check_device(regmap, TcpEndpoint("127.0.0.1", rack.port), fifo_seconds=0.3)
        heartbeats = rack.state.heartbeats
    names = verdicts(report)
    assert names["identity"] is Verdict.FAIL
    assert names["write target_load"] is Verdict.SKIP
    assert names["watchdog"] is Verdict.SKIP
    assert names["read status"] is Verdict.PASS
    assert heartbeats == 0


async def test_a_rack_that_accepts_anything_fails_the_limits() -> None:
    # The emulator built from a map without limits accepts any value; checked against the
    # reference map (with limits) the same device must fail the write checks.
    import importlib.resources
    import tomllib

    from equipment_adapters.modbus.mapfile import parse_map

    text = (
        importlib.resources.files("equipment_adapters.modbus.maps") / "reference-rack.toml"
    ).read_text()
    data = tomllib.loads(text)
    for name in ("ramp_rate", "eccentric_pct"):
        point = data["points"][name]
        point.pop("min_value", None)
        point.pop("max_value", None)
    lax = parse_map(data, source="lax.toml")
    async with RackEmulator(regmap=lax) as rack:
        report = await check_device(
            load_map("reference-rack"), TcpEndpoint("127.0.0.1", rack.port), fifo_seconds=0.3
        )
    failed = {r.name: r.detail for r in report.results if r.verdict is Verdict.FAIL}
    assert set(failed) == {"write ramp_rate", "write eccentric_pct"}
    assert "was accepted" in failed["write ramp_rate"]


async def test_nothing_listening_is_one_failed_row() -> None:
    async with RackEmulator() as rack:
        port = rack.port
    report = await check_device(
        load_map("reference-rack"), TcpEndpoint("127.0.0.1", port), fifo_seconds=0.1
    )
    assert [(r.name, r.verdict) for r in report.results] == [("connect", Verdict.FAIL)]
    assert not report.passed
