"""The chain view's state: every site, its stations and alerts, from central messages.

Pure and synchronous: ``ChainView.apply(topic, payload, now)`` folds one message from the
central broker into the picture and says whether anything changed; ``snapshot()`` gives
the JSON the page and the API show. Messages are untrusted: anything malformed is
counted and ignored, and the number of sites and stations is bounded, so a flood of
invented names cannot grow the view without limit.

A site is ``online`` while its bridge is up (``bridge/state`` ``1``) and its controller
says ``online``; ``offline`` when its bridge's will (``0``) came, that is when the site's
broker or its link to the centre is gone (the site itself may well keep training: its
events come once the link is back); ``controller offline`` when the bridge is up but the
controller's own will or clean stop said ``offline``.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from controller.chain.topics import BRIDGE_STATE, ChainTopics

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_SITES = 1000
MAX_STATIONS = 2000  #: per site
MAX_ALL_STATIONS = 100_000  #: in the whole chain
MAX_ALERTS = 200  #: per site
RECENT = 50  #: the latest rep/set events kept per site
_SEEN = 4096  #: (boot, seq) pairs remembered per site to drop at-least-once copies


@dataclass
class StationView:
    station_id: str
    state: str | None = None
    state_ts: float | None = None
    exercise: str | None = None
    set_index: int | None = None
    reps_in_set: int = 0
    last_velocity_ms: float | None = None
    load: float | None = None
    unit: str = ""
    reps: int = 0  #: reps received from this station since the view started
    sets: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "state": self.state,
            "state_ts": self.state_ts,
            "exercise": self.exercise,
            "set_index": self.set_index,
            "reps_in_set": self.reps_in_set,
            "last_velocity_ms": self.last_velocity_ms,
            "load": self.load,
            "unit": self.unit,
            "reps": self.reps,
            "sets": self.sets,
        }


@dataclass
class SiteView:
    site: str
    bridge: bool | None = None  #: None: no bridge notification seen (a direct client?)
    bridge_ts: float | None = None
    controller: str | None = None  #: "online" / "offline" as the controller said last
    last_seen: float | None = None
    stations: dict[str, StationView] = field(default_factory=dict)
    alerts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT))
    reps: int = 0
    sets: int = 0
    duplicates: int = 0
    _seen: set[tuple[str, int]] = field(default_factory=set)
    _seen_order: deque[tuple[str, int]] = field(default_factory=deque)

    @property
    def status(self) -> str:
        if self.bridge is False:
            return "offline"
        if self.controller == "offline":
            return "controller_offline"
        if self.bridge or self.controller == "online":
            return "online"
        return "unknown"

    @property
    def online(self) -> bool:
        return self.status == "online"

    def first_time(self, boot: Any, seq: Any) -> bool:
        """False for a copy of an event already counted (at-least-once delivery)."""
        if not isinstance(boot, str) or not isinstance(seq, int):
            return True
        key = (boot, seq)
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(key)
        self._seen_order.append(key)
        if len(self._seen_order) > _SEEN:
            self._seen.discard(self._seen_order.popleft())
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "status": self.status,
            "online": self.online,
            "bridge": self.bridge,
            "bridge_ts": self.bridge_ts,
            "controller": self.controller,
            "last_seen": self.last_seen,
            "reps": self.reps,
            "sets": self.sets,
            "stations": [self.stations[k].to_json() for k in sorted(self.stations)],
            "alerts": list(self.alerts.values()),
            "recent": list(self.recent),
        }


class ChainView:
    """Every site of the chain as the central broker shows it."""

    def __init__(self, prefix: str = "chain") -> None:
        self.topics = ChainTopics(prefix)
        self.sites: dict[str, SiteView] = {}
        self.messages = 0
        self.ignored = 0  #: malformed or unknown messages
        self.version = 0  #: bumped on every change (for pollers and feeds)
        self.station_count = 0

    def site(self, name: str) -> SiteView | None:
        return self.sites.get(name)

    def _site(self, name: str) -> SiteView | None:
        view = self.sites.get(name)
        if view is None:
            if not _NAME.match(name) or len(self.sites) >= MAX_SITES:
                return None
            view = self.sites[name] = SiteView(name)
        return view

    def apply(self, topic: str, payload: bytes, now: float) -> bool:
        """Fold one message in; True when the view changed."""
        self.messages += 1
        changed = self._apply(topic, payload, now)
        if changed:
            self.version += 1
        else:
            self.ignored += 1
        return changed

    def _apply(self, topic: str, payload: bytes, now: float) -> bool:
        parts = self.topics.split(topic)
        if parts is None:
            return False
        name, rest = parts
        if rest == BRIDGE_STATE:
            if payload not in (b"0", b"1"):
                return False
            site = self._site(name)
            if site is None:
                return False
            site.bridge = payload == b"1"
            site.bridge_ts = now
            site.last_seen = now
            return True
        if rest == "controller/status":
            if payload not in (b"online", b"offline"):
                return False
            site = self._site(name)
            if site is None:
                return False
            site.controller = payload.decode()
            site.last_seen = now
            return True
        data = _object(payload)
        if data is None:
            return False
        if rest == "controller/alert":
            site = self._site(name)
            if site is None:
                return False
            site.last_seen = now
            return _alert(site, None, data)
        levels = rest.split("/")
        if len(levels) != 3 or levels[0] != "station" or not _NAME.match(levels[1]):
            return False
        site = self._site(name)
        if site is None:
            return False
        station_id, leaf = levels[1], levels[2]
        station = site.stations.get(station_id)
        if station is None:
            if len(site.stations) >= MAX_STATIONS or self.station_count >= MAX_ALL_STATIONS:
                return False
            station = site.stations[station_id] = StationView(station_id)
            self.station_count += 1
        site.last_seen = now
        if leaf == "state":
            state = data.get("state")
            if not isinstance(state, str):
                return False
            station.state = state[:32]
            station.state_ts = _number(data.get("ts"))
            return True
        if leaf == "alert":
            return _alert(site, station_id, data)
        if leaf not in ("rep", "set"):
            return True  # cues, decisions, commands, sessions: the station was seen
        if not site.first_time(data.get("boot"), data.get("seq")):
            return False
        station.exercise = _text(data.get("exercise"))
        station.set_index = _integer(data.get("set_index"))
        station.load = _number(data.get("load"))
        station.unit = _text(data.get("unit")) or ""
        event: dict[str, Any] = {
            "type": leaf,
            "station_id": station_id,
            "ts": _number(data.get("ts")),
            "exercise": station.exercise,
            "set_index": station.set_index,
            "load": station.load,
            "unit": station.unit,
        }
        if leaf == "rep":
            rep_index = _integer(data.get("rep_index"))
            station.last_velocity_ms = _number(data.get("mean_velocity_ms"))
            station.reps_in_set = rep_index + 1 if rep_index is not None else 0
            station.reps += 1
            site.reps += 1
            event["rep_index"] = rep_index
            event["mean_velocity_ms"] = station.last_velocity_ms
        else:
            event["reps"] = _integer(data.get("reps"))
            event["stop"] = _text(data.get("stop"))
            station.sets += 1
            site.sets += 1
        site.recent.append(event)
        return True

    def snapshot(self) -> dict[str, Any]:
        sites = [self.sites[k].to_json() for k in sorted(self.sites)]
        return {
            "prefix": self.topics.prefix,
            "version": self.version,
            "online": sum(1 for s in sites if s["online"]),
            "sites": sites,
        }


def _alert(site: SiteView, station_id: str | None, data: dict[str, Any]) -> bool:
    code = _text(data.get("code"))
    severity = _text(data.get("severity"))
    if code is None or severity not in ("info", "warning", "critical"):
        return False
    key = (station_id or "", code[:64])
    if data.get("cleared") is True:
        return site.alerts.pop(key, None) is not None
    if key not in site.alerts and len(site.alerts) >= MAX_ALERTS:
        return False
    site.alerts[key] = {
        "station_id": station_id,
        "code": key[1],
        "severity": severity,
        "message": (_text(data.get("message")) or "")[:300],
        "ts": _number(data.get("ts")),
    }
    return True


def _object(payload: bytes) -> dict[str, Any] | None:
    if len(payload) > 65536:
        return None
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value[:80] if isinstance(value, str) else None
