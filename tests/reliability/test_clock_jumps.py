"""The wall clock jumping forwards and backwards (NTP stepping it, an operator setting it).

``time.time`` is made to jump by an hour either way while the code runs; the monotonic clock
and the event loop's clock go on as before, as on a real machine. Everything that measures
a duration must not notice: the staleness rule, the racks' watchdog (heartbeats on the
adapter's cadence), rest timers and set timeouts, the ramp rate, the store's commit
interval, the MQTT bridge's backoff, the login rate limit and the panel's session cache.
Wall-clock times stay where they belong: records (event ``ts``), stored expiries, and MQTT
command ``expires`` (a UNIX time by protocol).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from controller.events import StationStateChanged
from controller.states import StationState
from controller.store.people import set_disabled
from tests.web_ui.conftest import Site as PanelSite
from tests.web_ui.conftest import login
from tests.web_ui.conftest import site as panel_site  # noqa: F401 - the panel's fixture
from web_ui.ratelimit import LoginLimiter

from .rig import TIMING, S, emulated_site, wait_for

HOUR = 3600.0


class WallClock:
    """``time.time`` with a settable jump; everything else keeps the real clocks."""

    def __init__(self, real: Callable[[], float]) -> None:
        self.real = real
        self.offset = 0.0

    def __call__(self) -> float:
        return self.real() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    clock = WallClock(time.time)
    monkeypatch.setattr(time, "time", clock)
    return clock


async def test_a_site_training_through_clock_jumps_keeps_its_timers(
    tmp_path: Path, wall: WallClock
) -> None:
    async with emulated_site(tmp_path, kinds=("rack",)) as site:
        gym = site.gym
        rack = gym.runtime("rack-1")
        emulator = site.world.racks["rack-1"]
        await wait_for(
            lambda: rack.state is S.SET_ACTIVE and rack.supervisor.reps >= 1,
            within=90,
            what="rack-1 in a set",
        )
        first = len(site.recorder.seen)
        wall.jump(+HOUR)  # forwards an hour in the middle of a set

        def states_since() -> list[tuple[StationState, float]]:
            return [
                (s.event.after, s.at)
                for s in site.recorder.seen[first:]
                if isinstance(s.event, StationStateChanged) and s.event.station_id == "rack-1"
            ]

        await wait_for(
            lambda: any(state is S.RESTING for state, _ in states_since()),
            within=60,
            what="the set ends and a rest starts",
        )
        wall.jump(+HOUR)  # forwards again as the rest starts: a wall-clock rest would end now
        await asyncio.sleep(0.3)
        wall.jump(-3 * HOUR)  # then an hour behind: a wall-clock rest would last an hour more
        await wait_for(
            lambda: any(state is S.SET_ACTIVE for state, _ in states_since()),
            within=60,
            what="the rest ends and the next set starts",
        )
        await wait_for(lambda: rack.supervisor.reps >= 1, within=30, what="a rep after the jumps")
        # nothing timed out or went stale because of the jumps
        after = site.recorder.seen[first:]
        assert not [s for s in after if getattr(s.event, "code", None) == "safe_state"]
        assert S.FAULT not in [state for state, _ in states_since()]
        assert emulator.state.fault is None  # the rack's watchdog was fed all along
        # the rest lasted what the session timing says, on the monotonic clock
        marks = states_since()
        rest_start = next(at for state, at in marks if state is S.RESTING)
        ready = next(at for state, at in marks if state is S.SET_READY and at > rest_start)
        rest_s = ready - rest_start
        print(f"\nrest across +1 h and -3 h wall-clock jumps: {rest_s:.2f} s")
        assert rest_s >= TIMING.min_rest_s - 0.05  # not cut short by the forward jumps
        assert rest_s < 30.0  # nor an hour longer after the backward one
        assert rack.state is not S.FAULT


def test_the_login_rate_limit_holds_across_a_forward_jump(wall: WallClock) -> None:
    limiter = LoginLimiter(max_failures=3, window_s=300.0)
    for _ in range(3):
        limiter.failed("carl", "10.0.0.7")
    locked = limiter.retry_after("carl", "10.0.0.7")
    assert locked is not None
    wall.jump(+HOUR)  # a wall-clock window would have expired now
    again = limiter.retry_after("carl", "10.0.0.7")
    assert again is not None
    assert again <= locked
    wall.jump(-2 * HOUR)  # nor does a backwards jump lengthen it
    last = limiter.retry_after("carl", "10.0.0.7")
    assert last is not None
    assert last <= locked


async def test_a_disabled_account_is_refused_after_the_clock_went_back(
    panel_site: PanelSite,  # noqa: F811 - the panel's fixture, imported above
    wall: WallClock,
) -> None:
    """The session cache's age is monotonic: with a wall-clock age, a clock set back an
    hour kept a cached session valid for that hour after its account was disabled."""
    async with panel_site.client() as client:
        await login(client, "coach")
        assert (await client.get("/api/v1/me")).status_code == 200
        panel_site.runtime.auth.cache_s = 0.2
        wall.jump(-HOUR)
        await panel_site.store.writer.call(partial(set_disabled, username="carl", disabled=True))
        await asyncio.sleep(0.3)  # older than cache_s on the monotonic clock
        assert (await client.get("/api/v1/me")).status_code == 401
