from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.bus import EventBus
from controller.errors import BusOverflowError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    Event,
    Telemetry,
)


def command(n: int, station: str = "rack-1") -> CommandEvent:
    return CommandEvent(
        station_id=station,
        source=CommandSource.PLAN,
        verb="load",
        outcome=CommandOutcome.APPLIED,
        reason=f"#{n}",
        requested=float(n),
    )


def telemetry(n: int, station: str = "rack-1") -> Telemetry:
    return Telemetry(
        station_id=station,
        device_id="rack-1.rack",
        channel="position",
        unit="m",
        t0=float(n),
        period=0.01,
        values=(float(n),),
    )


def test_order_is_kept_across_reliable_and_latest() -> None:
    bus = EventBus()
    with bus.subscribe("panel") as sub:
        published: list[Event] = []
        for n in range(10):
            event: Event = command(n) if n % 3 else telemetry(n)
            published.append(event)
            bus.publish(event)
        assert sub.drain() == published


def test_telemetry_drops_oldest_and_counts() -> None:
    bus = EventBus()
    with bus.subscribe("mqtt", latest_bound=4) as sub:
        for n in range(10):
            bus.publish(telemetry(n))
        got = sub.drain()
    assert [e.t0 for e in got if isinstance(e, Telemetry)] == [6.0, 7.0, 8.0, 9.0]
    assert sub.dropped == 6


def test_reliable_overflow_alarms_keeps_everything_and_recovers() -> None:
    overflowed: list[str] = []
    recovered: list[str] = []
    bus = EventBus(
        on_overflow=lambda s: overflowed.append(s.name),
        on_recovered=lambda s: recovered.append(s.name),
    )
    with (
        bus.subscribe("slow", reliable_bound=10) as slow,
        bus.subscribe("alerts", types=[Alert]) as alerts,
    ):
        for n in range(25):
            bus.publish(command(n))
        assert overflowed == ["slow"]  # once, not once per event
        assert slow.overflowing
        raised = alerts.drain()
        assert [(a.code, a.severity, a.cleared) for a in raised if isinstance(a, Alert)] == [
            ("bus_overflow", AlertSeverity.CRITICAL, False)
        ]
        got = slow.drain()
        commands = [e for e in got if isinstance(e, CommandEvent)]
        assert [c.requested for c in commands] == [float(n) for n in range(25)]
        assert recovered == ["slow"]
        assert not slow.stats().overflowing
        cleared = alerts.drain()
        assert [(a.code, a.cleared) for a in cleared if isinstance(a, Alert)] == [
            ("bus_overflow", True)
        ]


def test_a_consumer_that_never_reads_is_cut_off_loudly() -> None:
    bus = EventBus()
    with (
        bus.subscribe("stuck", reliable_bound=5, cutoff_factor=2) as stuck,
        bus.subscribe("alerts", types=[Alert]) as alerts,
    ):
        for n in range(20):
            bus.publish(command(n))
        assert stuck.cut_off
        with pytest.raises(BusOverflowError, match=r"'stuck'.*cut off"):
            stuck.get_nowait()
        codes = [a.code for a in alerts.drain() if isinstance(a, Alert)]
        assert codes == ["bus_overflow", "bus_subscriber_cut_off"]
        assert stuck.lost == 11  # 10 queued + the one that crossed the line, all counted


def test_publish_does_not_wait_for_a_consumer_that_is_not_reading() -> None:
    bus = EventBus()
    with bus.subscribe("nobody-reads", latest_bound=8):
        for n in range(50_000):
            bus.publish(telemetry(n))
        assert bus.published == 50_000
        assert bus.stats()[0].backlog == 8


def test_filters_by_type_and_station() -> None:
    bus = EventBus()
    one, two_cmd, tele_one = command(1, "rack-1"), command(2, "rack-2"), telemetry(3, "rack-1")
    site_alert = Alert(station_id=None, severity=AlertSeverity.WARNING, code="x", message="m")
    with (
        bus.subscribe("station-2", station_id="rack-2") as two,
        bus.subscribe("telemetry", types=[Telemetry]) as tele,
    ):
        for event in (one, two_cmd, tele_one, site_alert):
            bus.publish(event)
        assert two.drain() == [two_cmd, site_alert]  # site-wide events reach every station
        assert tele.drain() == [tele_one]


async def test_get_waits_for_the_next_event() -> None:
    bus = EventBus()
    with bus.subscribe("waiter") as sub:
        reader = asyncio.create_task(sub.get(), name="reader")
        await asyncio.sleep(0)
        assert not reader.done()
        event = command(7)
        bus.publish(event)
        assert await asyncio.wait_for(reader, 1.0) is event


async def test_async_iteration_ends_when_the_subscription_closes() -> None:
    bus = EventBus()
    sub = bus.subscribe("iter")
    got: list[Event] = []

    async def consume() -> None:
        got.extend([event async for event in sub])

    consumer = asyncio.create_task(consume(), name="consumer")
    bus.publish(command(1))
    await asyncio.sleep(0)
    sub.close()
    await asyncio.wait_for(consumer, 1.0)
    assert len(got) == 1
    assert sub not in bus.subscriptions


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("reliable"), st.integers(0, 1000)),
            st.tuples(st.just("latest"), st.integers(0, 1000)),
            st.tuples(st.just("read"), st.integers(1, 5)),
        ),
        max_size=200,
    )
)
def test_reliable_events_arrive_exactly_once_in_order(ops: list[tuple[str, int]]) -> None:
    bus = EventBus()
    sub = bus.subscribe("prop", reliable_bound=50, latest_bound=3)
    sent: list[Event] = []
    received: list[Event] = []
    for op, n in ops:
        if op == "reliable":
            event: Event = command(n)
            sent.append(event)
            bus.publish(event)
        elif op == "latest":
            bus.publish(telemetry(n))
        else:
            received.extend(sub.drain(limit=n))
    received.extend(sub.drain())
    reliable = [e for e in received if isinstance(e, CommandEvent)]
    assert reliable == sent
    latest = [e for e in received if isinstance(e, Telemetry)]
    assert len(latest) + sub.dropped == sum(1 for op, _ in ops if op == "latest")
    sub.close()
