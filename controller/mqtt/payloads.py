"""Bus events as MQTT messages, with the site's privacy policy applied (pure).

By default no personal data leaves the site: payloads carry station ids, never athlete
ids, names, heart-rate telemetry or readiness. ``mqtt.personal_data`` lets a site allow
``pseudonymous_id`` (the athlete's random id in events), ``heart_rate`` (HR and RR
telemetry) and ``readiness`` (readiness events and the inputs of decisions). Names are
never sent: no event carries one.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from controller.events import (
    Alert,
    CommandEvent,
    CueEvent,
    DecisionEvent,
    Event,
    ReadinessScored,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    StationStateChanged,
    Telemetry,
)
from controller.jsonable import to_json
from controller.mqtt.topics import Topics

HEALTH_CHANNELS = frozenset({"heart_rate", "rr", "rmssd"})  #: heart data: HR, RR, HRV

#: the event types the bridge publishes, and the leaf of their topic
LEAVES: dict[type[Event], str] = {
    StationStateChanged: "state",
    RepEvent: "rep",
    SetEvent: "set",
    CueEvent: "cue",
    DecisionEvent: "decision",
    CommandEvent: "command",
    Alert: "alert",
    SessionStarted: "session",
    SessionEnded: "session",
    Telemetry: "telemetry",
    ReadinessScored: "readiness",
}


#: events that go out only once the store has committed them: the records a consumer keeps
#: (and may reconcile with the site's database). Station states, alerts, commands' outcomes,
#: cues and telemetry describe the present and go out at once (a ``store_unwritable`` alert
#: must not wait for the store it is about).
DURABLE_FIRST: frozenset[type[Event]] = frozenset(
    {RepEvent, SetEvent, DecisionEvent, SessionStarted, SessionEnded, ReadinessScored}
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool


def _strip_ids(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip_ids(v) for k, v in data.items() if k != "athlete_id"}
    if isinstance(data, list):
        return [_strip_ids(v) for v in data]
    return data


def message_for(
    event: Event, topics: Topics, *, personal_data: Collection[str], seq: int, boot: str
) -> Outgoing | None:
    """The message that carries ``event``, or None when the policy keeps it on site."""
    leaf = LEAVES.get(type(event))
    if leaf is None:
        return None
    if isinstance(event, Telemetry) and (
        event.channel in HEALTH_CHANNELS and "heart_rate" not in personal_data
    ):
        return None
    if isinstance(event, ReadinessScored) and not (
        "readiness" in personal_data and "pseudonymous_id" in personal_data
    ):
        return None
    data = event.to_json()
    if isinstance(event, DecisionEvent) and "readiness" not in personal_data:
        data.pop("inputs", None)  # may hold HRV, readiness, e1RM
    if "pseudonymous_id" not in personal_data:
        data = _strip_ids(data)
    data["seq"] = seq
    data["boot"] = boot
    payload = to_json(data).encode("utf-8")
    if event.station_id is None:
        if not isinstance(event, Alert):
            return None
        return Outgoing(topics.site_alert, payload, qos=1, retain=False)
    topic = topics.station(event.station_id, leaf)
    if isinstance(event, Telemetry):
        return Outgoing(topic, payload, qos=0, retain=False)
    return Outgoing(topic, payload, qos=1, retain=isinstance(event, StationStateChanged))


def decode(payload: bytes) -> dict[str, Any]:
    """For subscribers and tests: the JSON object of a message."""
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value
