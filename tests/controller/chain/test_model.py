"""The chain view's state model: sites, statuses, stations, alerts, duplicates, bounds."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.chain.model import MAX_SITES, MAX_STATIONS, ChainView


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def rep(seq: int, *, boot: str = "b1", rep_index: int = 0, velocity: float = 0.61) -> bytes:
    return event(
        type="rep",
        station_id="rack-1",
        ts=100.0 + seq,
        exercise="back_squat",
        set_index=1,
        rep_index=rep_index,
        load=80.0,
        unit="kg",
        mean_velocity_ms=velocity,
        seq=seq,
        boot=boot,
    )


def test_a_site_is_online_when_its_bridge_and_controller_are() -> None:
    view = ChainView("chain")
    assert view.apply("chain/north/bridge/state", b"1", 1.0)
    site = view.site("north")
    assert site is not None
    assert site.status == "online"
    assert view.apply("chain/north/controller/status", b"online", 1.0)
    assert site.online
    assert view.apply("chain/north/bridge/state", b"0", 2.0)
    assert (site.status, site.online, site.bridge_ts) == ("offline", False, 2.0)
    view.apply("chain/north/bridge/state", b"1", 3.0)
    view.apply("chain/north/controller/status", b"offline", 3.0)
    assert site.status == "controller_offline"


def test_a_site_without_bridge_notifications_goes_by_its_controller() -> None:
    view = ChainView("chain")
    view.apply("chain/direct/controller/status", b"online", 1.0)
    site = view.site("direct")
    assert site is not None
    assert site.bridge is None
    assert site.online


def test_stations_states_reps_and_sets() -> None:
    view = ChainView("acme/chain")
    state = event(type="state", station_id="rack-1", ts=5.0, before="resting", state="set_active")
    assert view.apply("acme/chain/south/station/rack-1/state", state, 5.0)
    for i in range(3):
        assert view.apply("acme/chain/south/station/rack-1/rep", rep(i + 1, rep_index=i), 6.0)
    set_done = event(
        type="set",
        station_id="rack-1",
        exercise="back_squat",
        set_index=1,
        load=80.0,
        unit="kg",
        reps=3,
        stop="velocity_loss",
        seq=4,
        boot="b1",
    )
    assert view.apply("acme/chain/south/station/rack-1/set", set_done, 7.0)
    snap = view.snapshot()
    (south,) = snap["sites"]
    assert south["reps"] == 3
    assert south["sets"] == 1
    (station,) = south["stations"]
    assert station["state"] == "set_active"
    assert station["reps"] == 3
    assert station["reps_in_set"] == 3
    assert station["last_velocity_ms"] == 0.61
    assert [e["type"] for e in south["recent"]] == ["rep", "rep", "rep", "set"]
    assert snap["version"] == view.version == 5


def test_copies_of_an_event_count_once() -> None:
    view = ChainView()
    assert view.apply("chain/n/station/rack-1/rep", rep(7), 1.0)
    assert not view.apply("chain/n/station/rack-1/rep", rep(7), 1.0)
    assert view.apply("chain/n/station/rack-1/rep", rep(7, boot="b2"), 1.0)  # a new boot
    site = view.site("n")
    assert site is not None
    assert site.reps == 2
    assert site.duplicates == 1


def test_alerts_come_and_clear() -> None:
    view = ChainView()
    alert = {"severity": "critical", "code": "stale_data", "message": "rack-1 lost its data"}
    view.apply("chain/n/station/rack-1/alert", event(**alert), 1.0)
    view.apply(
        "chain/n/controller/alert",
        event(severity="warning", code="mqtt_outbox_full", message="full"),
        1.0,
    )
    site = view.site("n")
    assert site is not None
    assert {(a["station_id"], a["code"]) for a in site.to_json()["alerts"]} == {
        ("rack-1", "stale_data"),
        (None, "mqtt_outbox_full"),
    }
    assert view.apply("chain/n/station/rack-1/alert", event(**alert, cleared=True), 2.0)
    assert [a["code"] for a in site.to_json()["alerts"]] == ["mqtt_outbox_full"]


def test_malformed_and_foreign_messages_are_ignored() -> None:
    view = ChainView("chain")
    for topic, payload in [
        ("other/n/bridge/state", b"1"),
        ("chain/n/bridge/state", b"yes"),
        ("chain/N A/bridge/state", b"1"),
        ("chain/n/controller/status", b"maybe"),
        ("chain/n/station/rack-1/state", b"not json"),
        ("chain/n/station/rack-1/state", b"[1, 2]"),
        ("chain/n/station/rack-1/state", event(state=3)),
        ("chain/n/station/Rack 1/rep", rep(1)),
        ("chain/n/station/rack-1/cmd/estop", event(seq=1)),
        ("chain/n/controller/alert", event(severity="loud", code="x")),
        ("chain/n", b"1"),
    ]:
        assert not view.apply(topic, payload, 1.0), topic
    assert view.ignored == 11
    assert view.version == 0


def test_the_number_of_sites_and_stations_is_bounded() -> None:
    view = ChainView()
    for i in range(MAX_SITES + 10):
        view.apply(f"chain/s{i}/bridge/state", b"1", 1.0)
    assert len(view.sites) == MAX_SITES
    state = event(state="idle")
    for i in range(MAX_STATIONS + 10):
        view.apply(f"chain/s0/station/r{i}/state", state, 1.0)
    assert len(view.sites["s0"].stations) == MAX_STATIONS
    assert view.station_count == MAX_STATIONS


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "chain/n/bridge/state",
                    "chain/n/controller/status",
                    "chain/n/controller/alert",
                    "chain/n/station/rack-1/state",
                    "chain/n/station/rack-1/rep",
                    "chain/n/station/rack-1/set",
                    "chain/n/station/rack-1/alert",
                ]
            ),
            st.one_of(
                st.binary(max_size=60),
                st.dictionaries(
                    st.sampled_from(
                        ["state", "seq", "boot", "code", "severity", "rep_index", "load", "cleared"]
                    ),
                    st.one_of(
                        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)
                    ),
                ).map(lambda d: json.dumps(d).encode()),
            ),
        ),
        max_size=30,
    )
)
def test_any_message_sequence_leaves_a_well_formed_view(messages: list[tuple[str, bytes]]) -> None:
    view = ChainView()
    for topic, payload in messages:
        view.apply(topic, payload, 1.0)
    snap = view.snapshot()
    json.dumps(snap, allow_nan=False)
    assert view.messages == len(messages)
    for site in snap["sites"]:
        assert site["status"] in ("online", "offline", "controller_offline", "unknown")
