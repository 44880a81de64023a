from __future__ import annotations

import json

from controller.events import (
    Alert,
    AlertSeverity,
    DecisionEvent,
    ReadinessScored,
    StationStateChanged,
    Telemetry,
)
from controller.mqtt.payloads import message_for
from controller.mqtt.topics import Topics
from controller.states import StationState
from plans.decisions import Decision, DecisionKind
from tests.controller.store.conftest import rep

TOPICS = Topics("gymctl", "test")


def out(event: object, *allowed: str) -> tuple[str, dict[str, object], int, bool] | None:
    message = message_for(event, TOPICS, personal_data=allowed, seq=7, boot="b00t")  # type: ignore[arg-type]
    if message is None:
        return None
    return message.topic, json.loads(message.payload), message.qos, message.retain


def test_by_default_no_athlete_id_leaves_the_site() -> None:
    result = out(rep(3, athlete="a-secret"))
    assert result is not None
    topic, data, qos, retain = result
    assert topic == "gymctl/test/station/rack-1/rep"
    assert (qos, retain) == (1, False)
    assert "athlete_id" not in data
    assert "a-secret" not in json.dumps(data)
    assert (data["seq"], data["boot"], data["rep_index"]) == (7, "b00t", 3)
    allowed = out(rep(3, athlete="a-secret"), "pseudonymous_id")
    assert allowed is not None
    assert allowed[1]["athlete_id"] == "a-secret"


def test_state_is_retained() -> None:
    event = StationStateChanged(
        station_id="rack-2",
        before=StationState.IDLE,
        after=StationState.CHECKED_IN,
        reason="in",
        athlete_id="a-1",
    )
    result = out(event)
    assert result is not None
    assert result[0] == "gymctl/test/station/rack-2/state"
    assert result[1]["state"] == "checked_in"
    assert result[3] is True
    assert "athlete_id" not in result[1]


def test_health_data_stays_unless_allowed() -> None:
    hr = Telemetry(
        station_id="bike-1",
        device_id="strap",
        channel="heart_rate",
        unit="bpm",
        t0=0.0,
        period=1.0,
        values=(142.0,),
    )
    assert out(hr) is None
    allowed = out(hr, "heart_rate")
    assert allowed is not None
    assert allowed[2] == 0  # telemetry at QoS 0
    power = Telemetry(
        station_id="bike-1",
        device_id="bike",
        channel="power",
        unit="W",
        t0=0.0,
        period=1.0,
        values=(250.0,),
    )
    assert out(power) is not None
    readiness = ReadinessScored(station_id="rack-1", athlete_id="a-1", day="2025-01-01", score=0.8)
    assert out(readiness, "readiness") is None  # needs the pseudonymous id too
    assert out(readiness, "readiness", "pseudonymous_id") is not None
    decision = DecisionEvent(
        station_id="rack-1",
        decision=Decision(
            DecisionKind.READINESS_ADJUSTMENT,
            "load_kg",
            100,
            92,
            "readiness",
            "low HRV",
            {"ln_rmssd_z": -1.4},
        ),
    )
    plain = out(decision)
    assert plain is not None
    assert "inputs" not in plain[1]
    assert plain[1]["reason"] == "low HRV"


def test_site_alerts_have_their_own_topic() -> None:
    alert = Alert(
        station_id=None,
        severity=AlertSeverity.CRITICAL,
        code="store_unwritable",
        message="disk full",
    )
    result = out(alert)
    assert result is not None
    assert result[0] == "gymctl/test/controller/alert"
