"""``/metrics`` in the Prometheus text format (prometheus-client).

Counters are fed by the live floor's bus subscription (reps, commands, alerts, faults);
gauges are read at scrape time from the live floor, the service's health, the store
writer and the bus. The event loop's lag is sampled by a task every 250 ms. Each panel has
its own registry, so two panels in one process (tests) never share series.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.events import Alert, CommandEvent, Event, RepEvent, StationStateChanged
from controller.service import GymService
from controller.states import StationState
from controller.store import Store
from web_ui.live import LiveFloor

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_PERIOD_S = 0.25


class _SiteCollector(Collector):
    def __init__(self, gym: GymService, live: LiveFloor, store: Store, sse: Tally[str]) -> None:
        self.gym = gym
        self.live = live
        self.store = store
        self.sse = sse

    def collect(self) -> Iterator[Metric]:
        by_state = GaugeMetricFamily(
            "gymctl_stations", "Stations by state (live view)", labels=["state"]
        )
        states = Tally(live.snapshot.state.value for live in self.live.stations.values())
        for state in StationState:
            by_state.add_metric([state.value], states.get(state.value, 0))
        yield by_state

        alerts = GaugeMetricFamily(
            "gymctl_active_alerts", "Alerts not cleared yet", labels=["severity"]
        )
        active = Tally(
            a.severity.value for live in self.live.stations.values() for a in live.snapshot.alerts
        )
        active.update(a.severity.value for a in self.live.site_alerts.values())
        for severity in ("info", "warning", "critical"):
            alerts.add_metric([severity], active.get(severity, 0))
        yield alerts

        health = self.gym.health()
        if health.mqtt_connected is not None:
            mqtt = GaugeMetricFamily("gymctl_mqtt_connected", "1 when the MQTT bridge is up")
            mqtt.add_metric([], 1.0 if health.mqtt_connected else 0.0)
            yield mqtt
        devices = GaugeMetricFamily(
            "gymctl_device_connected",
            "1 when the device's link is connected",
            labels=["device", "station", "role", "link"],
        )
        for device in health.devices:
            devices.add_metric(
                [device.device_id, device.station_id or "", device.role, device.link.value],
                1.0 if device.link.value == "connected" else 0.0,
            )
        yield devices

        stats = self.store.writer.stats()
        writable = GaugeMetricFamily("gymctl_store_writable", "1 when the database is writable")
        writable.add_metric([], 1.0 if stats.writable else 0.0)
        yield writable
        backlog = GaugeMetricFamily("gymctl_store_backlog", "Writes queued for the database")
        backlog.add_metric([], stats.queued)
        yield backlog

        bus_backlog = GaugeMetricFamily(
            "gymctl_bus_backlog", "Events queued per bus subscriber", labels=["subscriber"]
        )
        bus_dropped = GaugeMetricFamily(
            "gymctl_bus_dropped_telemetry",
            "Telemetry events dropped oldest-first per bus subscriber",
            labels=["subscriber"],
        )
        for sub in self.gym.bus.stats():
            bus_backlog.add_metric([sub.name], sub.backlog)
            bus_dropped.add_metric([sub.name], sub.dropped)
        yield bus_backlog
        yield bus_dropped

        viewers = GaugeMetricFamily(
            "gymctl_panel_live_viewers", "Browsers following the live feed", labels=["page"]
        )
        for page in ("floor", "station"):
            viewers.add_metric([page], self.sse.get(page, 0))
        yield viewers


class PanelMetrics:
    def __init__(self, gym: GymService, live: LiveFloor, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.viewers: Tally[str] = Tally()
        self.reps = Counter("gymctl_reps", "Completed reps seen on the bus", registry=self.registry)
        self.commands = Counter(
            "gymctl_commands",
            "Station commands by verb, source and outcome",
            ["verb", "source", "outcome"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "gymctl_alerts",
            "Alerts raised, by severity and code",
            ["severity", "code"],
            registry=self.registry,
        )
        self.faults = Counter(
            "gymctl_station_faults",
            "Stations entering their safe state (fault or e-stop)",
            ["station", "state"],
            registry=self.registry,
        )
        self.loop_lag = Histogram(
            "gymctl_event_loop_lag_seconds",
            "How late the event loop ran a 250 ms timer",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        self.loop_lag_last = Gauge(
            "gymctl_event_loop_lag_last_seconds", "The last lag sample", registry=self.registry
        )
        self.registry.register(_SiteCollector(gym, live, store, self.viewers))

    def observe(self, event: Event) -> None:
        """Count one bus event (called by the live floor for every event)."""
        match event:
            case RepEvent():
                self.reps.inc()
            case CommandEvent():
                self.commands.labels(event.verb, event.source.value, event.outcome.value).inc()
            case Alert() if not event.cleared:
                self.alerts.labels(event.severity.value, event.code).inc()
            case StationStateChanged() if (
                event.after
                in (
                    StationState.FAULT,
                    StationState.ESTOPPED,
                )
                and event.before is not event.after
            ):
                self.faults.labels(event.station_id or "", event.after.value).inc()
            case _:
                pass

    async def sample_loop_lag(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_PERIOD_S)
            lag = max(0.0, time.monotonic() - start - LAG_PERIOD_S)
            self.loop_lag.observe(lag)
            self.loop_lag_last.set(lag)

    def render(self) -> bytes:
        return generate_latest(self.registry)
