"""The live floor folds bus events into what the pages show, and hands each browser only
what changed."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from controller.cues import rep_cue
from controller.events import Alert, AlertSeverity, CueEvent, Telemetry
from controller.service import POSITION_CHANNEL
from equipment_adapters.base import CueColour
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.controller.polling import eventually
from web_ui.live import TELEMETRY_BOUND, FeedCursor, TracePoints

from .conftest import Site
from .seed import add_athletes


async def settle(site: Site) -> None:
    await eventually(
        lambda: not any(s.backlog for s in site.bus.subscriptions if s.name == "panel")
    )
    await asyncio.sleep(0)


async def test_a_cursor_gets_everything_once_then_only_changes(site: Site) -> None:
    live = site.runtime.live
    cursor = FeedCursor()
    first = dict(live.frames(cursor))
    assert [t["station_id"] for t in first["stations"]["stations"]] == ["rack-1", "rack-2"]
    assert live.frames(cursor) == []
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-2", athlete.athlete_id, by="test")
    await settle(site)
    await eventually(lambda: live.names.get(athlete.athlete_id) == athlete.name)
    changed = dict(live.frames(cursor))["stations"]["stations"]
    assert [t["station_id"] for t in changed] == ["rack-2"]
    assert changed[-1]["state"] == "checked_in"
    assert changed[-1]["athlete_name"] == athlete.name


async def test_a_set_shows_up_rep_by_rep_with_zone_words(site: Site) -> None:
    live = site.runtime.live
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    cursor = FeedCursor(station_id="rack-1")
    live.frames(cursor)
    velocities = await site.gym.run_set("rack-1", athlete.model, load=30, reps=3, rep_s=0.2)
    await settle(site)
    out = dict(live.frames(cursor))
    reps = out["reps"]["reps"]
    assert [r["velocity"] for r in reps] == pytest.approx(velocities)
    assert all(r["zone"] in {c.value for c in CueColour} for r in reps)
    assert all(r["zone_label"] for r in reps)
    assert len(out["trace"]["points"]) >= 3 * 0.2 * 25 * 0.8
    tile = out["stations"]["stations"][-1]
    assert tile["state"] == "resting"
    assert tile["reps"] == 3
    assert tile["live_velocity_ms"] is None  # nobody is lifting now
    assert tile["next_load"] is not None


async def test_position_telemetry_is_turned_into_velocity(site: Site) -> None:
    live = site.runtime.live
    t = np.arange(50) * 0.02
    position = 0.5 * t**2  # accelerating at 1 m/s^2: velocity = t
    site.bus.publish(
        Telemetry(
            station_id="rack-1",
            device_id="d",
            channel=POSITION_CHANNEL,
            unit="m",
            t0=0.0,
            period=0.02,
            values=tuple(position.tolist()),
        )
    )
    await settle(site)
    points = list(live.get("rack-1").trace)
    times = np.array([p[0] for p in points])
    speeds = np.array([p[1] for p in points])
    assert np.allclose(speeds[1:-1], times[1:-1], atol=1e-3)


async def test_alerts_come_and_go(site: Site) -> None:
    live = site.runtime.live
    cursor = FeedCursor()
    live.frames(cursor)
    site.bus.publish(
        Alert(
            station_id=None,
            severity=AlertSeverity.CRITICAL,
            code="store_unwritable",
            message="disk full",
        )
    )
    site.bus.publish(
        Alert(
            station_id="rack-2",
            severity=AlertSeverity.WARNING,
            code="stale_data",
            message="no data for 300 ms",
        )
    )
    await settle(site)
    out = dict(live.frames(cursor))
    assert out["site"]["alerts"][0]["message"] == "disk full"
    assert out["stations"]["stations"][0]["alerts"][0]["code"] == "stale_data"
    site.bus.publish(
        Alert(
            station_id="rack-2",
            severity=AlertSeverity.INFO,
            code="stale_data",
            message="back",
            cleared=True,
        )
    )
    await settle(site)
    out = dict(live.frames(cursor))
    assert out["stations"]["stations"][0]["alerts"] == []


async def test_a_flood_of_telemetry_never_blocks_and_keeps_the_newest(site: Site) -> None:
    for n in range(20_000):
        site.bus.publish(
            Telemetry(
                station_id="rack-1",
                device_id="d",
                channel="velocity",
                unit="m/s",
                t0=n * 0.1,
                period=0.02,
                values=(0.1, 0.2, 0.3, 0.4, float(n)),
            )
        )
    panel = next(s for s in site.bus.subscriptions if s.name == "panel")
    assert panel.backlog <= TELEMETRY_BOUND
    assert panel.dropped > 0
    await settle(site)
    live = site.runtime.live.get("rack-1")
    assert list(live.trace)[-1][1] == 19_999.0


async def test_a_rep_cue_colours_the_last_rep(site: Site) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    await site.gym.run_set("rack-1", athlete.model, load=30, reps=1, rep_s=0.1)
    site.bus.publish(CueEvent(station_id="rack-1", cue=rep_cue(1, 0.3, CueColour.RED)))
    await settle(site)
    tile = site.runtime.live.tile(site.runtime.live.get("rack-1"))
    assert tile["last_zone"] == "red"
    assert tile["zone_label"] == "below zone"


async def test_a_new_set_shows_its_number_before_its_first_rep(site: Site) -> None:
    live = site.runtime.live
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    await site.gym.run_set("rack-1", athlete.model, load=30, reps=2, rep_s=0.1)
    await settle(site)
    second = asyncio.create_task(
        site.gym.run_set("rack-1", athlete.model, load=30, reps=4, rep_s=0.5), name="set-2"
    )
    await eventually(lambda: live.get("rack-1").snapshot.state.value == "set_active")
    tile = live.tile(live.get("rack-1"))
    assert (tile["set_index"], tile["reps"], tile["target_reps"]) == (1, 0, 4)
    await second


@pytest.mark.parametrize("channel", [POSITION_CHANNEL, "velocity"])
async def test_the_trace_keeps_what_numpy_would(site: Site, channel: str) -> None:
    """The fold is plain Python for speed; numpy's gradient and thinning are its oracle."""
    live = site.runtime.live
    rng = np.random.default_rng(7)
    period, t0, expected = 0.001, 5.0, []
    for size in (2, 3, 7, 50, 53):
        values = rng.normal(size=size)
        values[rng.integers(size)] = np.nan if size > 3 else values[0]
        site.bus.publish(
            Telemetry(
                station_id="rack-2",
                device_id="d",
                channel=channel,
                unit="m",
                t0=t0,
                period=period,
                values=tuple(values.tolist()),
            )
        )
        speeds = np.gradient(values, period) if channel == POSITION_CHANNEL else values
        step = round((1.0 / live.trace_hz) / period)
        times = t0 + period * np.arange(size)
        expected += [
            (t, v) for t, v in zip(times[::step], speeds[::step], strict=True) if np.isfinite(v)
        ]
        t0 += period * size
    await settle(site)
    got = np.array(list(live.get("rack-2").trace))
    assert len(got) == len(expected)
    # kept rounded to 4 decimals (what the browser gets), so within half of 1e-4
    assert np.allclose(got, np.array(expected), rtol=0, atol=0.5e-4 + 1e-12)
    assert np.array_equal(np.round(got, 4), got)
    assert live.get("rack-2").live_velocity_ms == pytest.approx(round(float(speeds[-1]), 2))


async def test_the_encoded_tile_follows_every_change(site: Site) -> None:
    """Tiles are encoded once per version and shared: each change must show in them."""
    live = site.runtime.live
    station = live.get("rack-1")
    first = live.tile_json(station)
    assert live.tile_json(station) is first  # cached while nothing changes
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    await settle(site)
    await eventually(lambda: live.tile(station)["athlete_name"] == athlete.name)
    site.bus.publish(
        Telemetry(
            station_id="rack-1",
            device_id="d",
            channel="velocity",
            unit="m/s",
            t0=0.0,
            period=0.02,
            values=(0.1, 0.25),
        )
    )
    await settle(site)
    tile = live.tile(station)
    assert tile["live_velocity_ms"] == 0.25
    assert tile["version"] == station.version
    fresh = station.snapshot.to_json()
    assert {k: tile[k] for k in fresh} == json.loads(json.dumps(fresh))
    assert json.loads(live.tiles_json())["stations"][0] == tile


def test_trace_points_are_encoded_once_as_json_writes_them() -> None:
    points = TracePoints(maxlen=4)
    # numpy scalars too: their repr ("np.float64(...)") must not reach the JSON
    for i in range(6):
        points.append(round(0.02 * i + 1e-5, 4), np.float64(round(-0.333 * i, 4)))
    kept = [[t, v] for t, v in points]
    assert len(kept) == 4
    assert points.json() == json.dumps(kept, separators=(",", ":")).encode()
    assert json.loads(points.json(2)) == kept[-2:]
    assert points.json(0) == b"[]"
    assert json.loads(points.json(10)) == kept
    points.clear()
    assert points.json() == b"[]"
    assert len(points) == 0
