"""The feeds' broadcaster on a real live floor: shared frames, slots, slow browsers."""

from __future__ import annotations

import asyncio

import pytest

from controller.events import Telemetry
from web_ui.feeds import KEEPALIVE, FeedHub, Viewer
from web_ui.live import LiveFloor

from .conftest import Site
from .test_live import settle


def _move(site: Site, station_id: str, t0: float) -> None:
    site.bus.publish(
        Telemetry(
            station_id=station_id,
            device_id="d",
            channel="velocity",
            unit="m/s",
            t0=t0,
            period=0.02,
            values=(0.3, 0.4, 0.5),
        )
    )


def _arm(viewer: Viewer) -> asyncio.Task[bytes]:
    return asyncio.create_task(viewer.next_frame(), name="test-viewer")


async def _armed(*viewers: Viewer) -> list[asyncio.Task[bytes]]:
    tasks = [_arm(v) for v in viewers]
    await asyncio.sleep(0)  # each task is now waiting on its inbox
    return tasks


async def test_browsers_in_the_same_state_share_one_frame_a_period(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = site.runtime.live
    hub = FeedHub(live, feed_hz=10)
    a, _ = hub.join(None, due=float("inf"))
    b, _ = hub.join(None, due=float("inf"))
    first = await _armed(a, b)
    _move(site, "rack-1", 1.0)
    await settle(site)
    hub.broadcast({a, b})  # each from its own first frame: made twice
    for task in first:
        assert (await task).startswith(b"event: stations")
    assert a.synced == b.synced  # from now on in the same state
    assert a.cursor == b.cursor

    made: list[str | None] = []
    feed_bytes = LiveFloor.feed_bytes

    def counted(self: LiveFloor, cursor: object) -> bytes:
        made.append(getattr(cursor, "station_id", "?"))
        return feed_bytes(self, cursor)  # type: ignore[arg-type]

    monkeypatch.setattr(LiveFloor, "feed_bytes", counted)
    hub.new_period()
    second = await _armed(a, b)
    _move(site, "rack-2", 2.0)
    await settle(site)
    hub.broadcast({a})
    hub.broadcast({b})  # a later slot of the same period: the same bytes, not made again
    frames = [await t for t in second]
    assert made == [None]
    assert a.cursor is b.cursor
    assert frames[0] == frames[1]
    assert b'"station_id":"rack-2"' in frames[0]
    assert b'"station_id":"rack-1"' not in frames[0]  # only what changed


async def test_a_browser_still_writing_is_skipped_and_catches_up(site: Site) -> None:
    live = site.runtime.live
    hub = FeedHub(live, feed_hz=10)
    slow, _ = hub.join(None, due=float("inf"))
    _move(site, "rack-1", 1.0)
    await settle(site)
    hub.broadcast({slow})  # not waiting for a frame (writing the last one): skipped
    seen = dict(slow.cursor.versions)
    _move(site, "rack-2", 2.0)
    await settle(site)
    hub.new_period()
    (task,) = await _armed(slow)
    hub.broadcast({slow})
    frame = await task
    assert b'"station_id":"rack-1"' in frame  # nothing it missed is lost
    assert b'"station_id":"rack-2"' in frame
    assert slow.cursor.versions != seen


async def test_browsers_are_spread_evenly_over_the_frame_period(site: Site) -> None:
    hub = FeedHub(site.runtime.live, feed_hz=10)
    viewers = [hub.join(None, due=float("inf"))[0] for _ in range(50)]
    assert len(hub.slots) == 10  # a slot every 10 ms
    assert [len(slot) for slot in hub.slots] == [5] * 10
    hub.leave(viewers[0])
    assert len(hub.viewers) == 49


async def test_a_slot_past_its_step_hands_the_rest_back_for_the_next_step(site: Site) -> None:
    hub = FeedHub(site.runtime.live, feed_hz=10)
    viewers = [hub.join(None, due=float("inf"))[0] for _ in range(3)]
    tasks = await _armed(*viewers)
    _move(site, "rack-1", 1.0)
    await settle(site)
    left = hub.broadcast(viewers, until=0.0)  # the step is over at once: one served
    assert len(left) == 2
    assert [v.inbox is not None and v.inbox.done() for v in viewers].count(True) == 1
    assert hub.broadcast(left) == []  # the next step serves the rest
    frames = [await t for t in tasks]
    assert all(b'"station_id":"rack-1"' in frame for frame in frames)


async def test_a_quiet_feed_gets_a_keep_alive_when_due(site: Site) -> None:
    hub = FeedHub(site.runtime.live, feed_hz=10)
    quiet, _ = hub.join(None, due=0.0)  # due long ago
    (task,) = await _armed(quiet)
    hub.broadcast({quiet})
    assert await task == KEEPALIVE


async def test_closing_ends_every_waiting_feed(site: Site) -> None:
    hub = FeedHub(site.runtime.live, feed_hz=10)
    viewers = [hub.join(s, due=float("inf"))[0] for s in (None, "rack-1")]
    tasks = await _armed(*viewers)
    hub.close()
    assert [await t for t in tasks] == [b"", b""]
    assert hub.closed
