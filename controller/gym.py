"""The site: every part of one gym's controller, owned by one object.

``async with Gym(config, make_adapter=...) as gym`` starts, in one ``asyncio.TaskGroup``
with a named task each, in this order: the store (``store``), the embedded MQTT broker when
no broker is configured (``mqtt-broker``), the MQTT bridge (``mqtt-bridge``), every station
(``station:<id>``: its adapters, drive and cues), the site's watcher (``site-watch``) and
health loop (``site-health``), and the panel when it is enabled (``panel``). Leaving stops
them in the reverse order: sessions first, stations put their actuators in the safe state,
the bridge has the store commit what the stations recorded and sends it with what it holds
(records go to MQTT only once committed), the store commits the last events. A component
that fails while running fails the site (the task group cancels the rest and the error
comes out of ``async with``); a component that cannot start raises from ``__aenter__``
after the others were stopped.

The site

* routes MQTT commands to their station (through its envelope, like every command);
* puts every station in its safe state while the store cannot write (``store_unwritable``,
  ``store_backlog``) or a bus consumer overflows (``bus_overflow``), and lets the health
  loop bring them back when the alarm clears;
* recovers a station whose devices are back (reachable, data fresh) after a fault, so that
  a session resumes where it was;
* runs a session (``controller.session_runner``) when an athlete checks in at a station with
  a plan assigned, as the task ``session:<station>``;
* records everything through the bus (``Store`` writes reps, sets, decisions, states...)
  and each set's raw traces, compressed; the bridge publishes the records from the store's
  commit feed (``durable=self.store``);
* offers the panel its service API (``controller.service.GymService``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlite_utils import Database

from controller.athlete_data import Athlete, athlete, todays_assignment
from controller.bus import EventBus, Subscription
from controller.config import SiteConfig
from controller.errors import ControllerError, NotFoundError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    StationStateChanged,
)
from controller.mqtt import AnyCommand, EmbeddedBroker, MqttBridge
from controller.safety import Verdict
from controller.service import (
    ActiveAlert,
    CommandResult,
    DeviceHealth,
    ServiceHealth,
    StationSnapshot,
)
from controller.session_runner import (
    SessionRunner,
    SessionSummary,
    SessionTiming,
    new_session_id,
)
from controller.states import StationState
from controller.station import AdapterFactory, Station
from controller.station_runtime import StationRuntime
from controller.store import Store, people
from kernels.errors import InvalidInputError
from kernels.hrv_stream import RRProcessor
from plans.decisions import Decision, DecisionKind
from plans.exercises import Catalogue

log = logging.getLogger(__name__)

#: site-wide alarms during which every station stays in its safe state
SITE_ALARMS = frozenset({"store_unwritable", "store_backlog", "bus_overflow"})
HEALTH_PERIOD_S = 0.25
RECOVER_EVERY_S = 2.0

S = StationState


def _result(verdict: Verdict) -> CommandResult:
    return CommandResult(verdict.outcome, verdict.reason, verdict.target)


def close_interrupted_sessions(db: Database) -> int:
    """Sessions still ``running`` from an earlier run (the controller was killed): ``fault``,
    ended at their last recorded set or rep. Runs in the store's writer thread."""
    cursor = db.execute(
        "UPDATE sessions SET status = 'fault', ended = max(started, coalesce("
        "(SELECT max(ended) FROM sets WHERE sets.session_id = sessions.id), "
        "(SELECT max(ts) FROM reps WHERE reps.session_id = sessions.id), started)), "
        "summary_json = json_set(summary_json, '$.interrupted', "
        "'the controller stopped while it ran') WHERE status = 'running'"
    )
    return int(cursor.rowcount)


@dataclass(frozen=True, slots=True)
class GymOptions:
    """What the command line may override in the site config, and the session timing."""

    mqtt_port: int | None = None
    db_path: Path | None = None
    panel: bool | None = None  #: None: the config's ``panel.enabled``
    panel_port: int | None = None
    timing: SessionTiming = field(default_factory=SessionTiming)
    telemetry_hz: float = 10.0


PanelFactory = Callable[["Gym"], AbstractAsyncContextManager[Any]]


@dataclass(slots=True)
class _Component:
    name: str
    task: asyncio.Task[None]
    stop: asyncio.Event


class Gym:
    """One gym's controller; see the module docstring."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        make_adapter: AdapterFactory,
        options: GymOptions | None = None,
        panel_factory: PanelFactory | None = None,
        rr_factory: Callable[[], Any] | None = None,
        catalogue: Catalogue | None = None,
        today: Callable[[], date] = date.today,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.options = options or GymOptions()
        self.make_adapter = make_adapter
        self.panel_factory = panel_factory
        #: one HRV processor per strap (60 s windows of RR intervals)
        self.rr_factory = rr_factory or partial(RRProcessor, window_s=60.0)
        self.catalogue = catalogue
        self.today = today
        self.clock = clock
        self.bus = EventBus(on_overflow=self._bus_overflow, on_recovered=self._bus_recovered)
        self.db_path = self.options.db_path or config.store_path
        self.store = Store(self.db_path, bus=self.bus, settings=config.store)
        self.bridge: MqttBridge | None = None
        self.broker: EmbeddedBroker | None = None
        self.panel: Any = None
        self.runtimes: dict[str, StationRuntime] = {}  #: by station id, in config order
        self.sessions: dict[str, asyncio.Task[SessionSummary | None]] = {}
        self.runners: dict[str, SessionRunner] = {}
        self.finished: deque[SessionSummary] = deque(maxlen=1000)  #: the latest sessions
        self.alarms: dict[str, str] = {}  #: active site alarms: code -> message
        self._group: asyncio.TaskGroup | None = None
        self._components: list[_Component] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._watch: Subscription | None = None
        self._last_recover: dict[str, float] = {}
        self._closed: asyncio.Event | None = None

    # -- life --------------------------------------------------------------------------------

    @property
    def site_name(self) -> str:
        return self.config.site.name

    @property
    def mqtt_port(self) -> int:
        return self.options.mqtt_port or self.config.mqtt.port

    @property
    def mqtt_host(self) -> str:
        return self.config.mqtt.host or "127.0.0.1"

    @property
    def panel_enabled(self) -> bool:
        wanted = self.options.panel
        return self.config.panel.enabled if wanted is None else wanted

    async def __aenter__(self) -> Self:
        self._closed = asyncio.Event()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        try:
            await self._start("store", self.store)
            await self.store.writer.call(partial(people.sync_site, config=self.config))
            closed = await self.store.writer.call(close_interrupted_sessions)
            if closed:
                log.warning("%d sessions were running when the controller stopped", closed)
            self._watch = self.bus.subscribe("site-watch", types=(Alert, StationStateChanged))
            self._tasks.append(self._group.create_task(self._watcher(), name="site-watch"))
            mqtt = self.config.mqtt
            if mqtt.enabled:
                if mqtt.embedded:
                    self.broker = EmbeddedBroker(host="127.0.0.1", port=self.mqtt_port)
                    await self._start("mqtt-broker", self.broker)
                self.bridge = MqttBridge(
                    settings=mqtt,
                    site_id=self.config.site.id,
                    bus=self.bus,
                    on_command=self._on_mqtt,
                    durable=self.store,  # records go out once committed
                    stations=[s.id for s in self.config.stations],
                    host=self.mqtt_host,
                    port=self.mqtt_port,
                    base_dir=Path(self.config.base_dir),
                )
                await self._start("mqtt-bridge", self.bridge)
            for station_config in self.config.stations:
                station = Station(
                    station_config,
                    bus=self.bus,
                    make_adapter=self.make_adapter,
                    remote_release=mqtt.remote_release,
                    telemetry_hz=self.options.telemetry_hz,
                    clock=self.clock,
                )
                runtime = StationRuntime(
                    station, bus=self.bus, rr_factory=self.rr_factory, clock=self.clock
                )
                self.runtimes[station.id] = runtime
                await self._start(f"station:{station.id}", station)
            self._tasks.append(self._group.create_task(self._health(), name="site-health"))
            if self.panel_enabled:
                factory = self.panel_factory
                if factory is None:
                    # FastAPI and uvicorn load only when a site serves a panel
                    from controller.panel import serve_panel

                    factory = serve_panel
                self.panel = await self._start("panel", factory(self))
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _hold(
        self,
        manager: AbstractAsyncContextManager[Any],
        ready: asyncio.Future[Any],
        stop: asyncio.Event,
    ) -> None:
        """A component's life in its own task: enter, wait for the stop, leave."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                value = await stack.enter_async_context(manager)
            except Exception as exc:
                ready.set_exception(exc)
                return
            ready.set_result(value)
            await stop.wait()

    async def _start(self, name: str, manager: AbstractAsyncContextManager[Any]) -> Any:
        assert self._group is not None
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = self._group.create_task(self._hold(manager, ready, stop), name=name)
        self._components.append(_Component(name, task, stop))
        try:
            return await ready
        except BaseException:
            if not ready.done():
                ready.cancel()
            raise

    async def _shutdown(self) -> None:
        if self._group is None:
            return
        group, self._group = self._group, None
        for task in list(self.sessions.values()):
            task.cancel()
        for task in list(self.sessions.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in self._tasks:
            task.cancel()
        for component in reversed(self._components):
            component.stop.set()
            started = time.monotonic()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({component.task})
            took = time.monotonic() - started
            log.log(
                logging.WARNING if took > 5.0 else logging.DEBUG,
                "%s stopped in %.2f s",
                component.name,
                took,
            )
        if self._watch is not None:
            self._watch.close()
        if self._closed is not None:
            self._closed.set()
        try:
            await group.__aexit__(None, None, None)
        except BaseExceptionGroup as errors:
            if len(errors.exceptions) == 1:
                raise errors.exceptions[0] from None
            raise

    async def serve_forever(self) -> None:
        """Run until :meth:`stop` (or a failing component, or cancellation)."""
        assert self._closed is not None
        await self._closed.wait()

    def stop(self) -> None:
        if self._closed is not None:
            self._closed.set()

    # -- alarms, health, MQTT ------------------------------------------------------------------

    def _bus_overflow(self, sub: Subscription) -> None:
        self._alarm("bus_overflow", f"bus subscriber {sub.name!r} is behind", active=True)

    def _bus_recovered(self, sub: Subscription) -> None:
        self._alarm("bus_overflow", f"bus subscriber {sub.name!r} caught up", active=False)

    def _alarm(self, code: str, message: str, *, active: bool) -> None:
        if active:
            if code not in self.alarms:
                log.error("site alarm %s: %s; every station goes to its safe state", code, message)
            self.alarms[code] = message
            for runtime in self.runtimes.values():
                if runtime.state is not S.ESTOPPED:
                    runtime.station.go_safe(f"site alarm: {message}")
        elif self.alarms.pop(code, None) is not None:
            log.warning("site alarm %s cleared: %s", code, message)

    async def _watcher(self) -> None:
        assert self._watch is not None
        async for event in self._watch:
            if isinstance(event, Alert):
                if event.station_id is None:
                    if event.code in SITE_ALARMS:
                        self._alarm(event.code, event.message, active=not event.cleared)
                else:
                    runtime = self.runtimes.get(event.station_id)
                    if runtime is not None:
                        runtime.note_alert(event)
            elif isinstance(event, StationStateChanged) and event.station_id is not None:
                runtime = self.runtimes.get(event.station_id)
                if runtime is not None:
                    runtime.note_state(event)

    async def _health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_PERIOD_S)
            self.check_health()

    def check_health(self) -> None:
        """Recover stations whose fault is over: no site alarm, devices reachable, data fresh."""
        if self.alarms:
            return
        now = self.clock()
        for station_id, runtime in self.runtimes.items():
            station = runtime.station
            envelope = station.drive.envelope
            faulted = runtime.state is S.FAULT or (
                envelope is not None and envelope.fault_reason is not None
            )
            if not faulted or runtime.state is S.ESTOPPED:
                continue
            if now - self._last_recover.get(station_id, -1e9) < RECOVER_EVERY_S:
                continue
            if not runtime.reachable() or not runtime.fresh():
                continue
            self._last_recover[station_id] = now
            log.info("station %s: devices back and data fresh: recovering", station_id)
            station.recover("devices back, data fresh")

    def _on_mqtt(self, command: AnyCommand) -> None:
        runtime = self.runtimes.get(command.station_id)
        if runtime is None:  # the bridge checks the station list; this is belt and braces
            log.warning("MQTT command for unknown station %s", command.station_id)
            return
        runtime.station.handle_mqtt(command)

    # -- staff commands ---------------------------------------------------------------------

    def runtime(self, station_id: str) -> StationRuntime:
        try:
            return self.runtimes[station_id]
        except KeyError:
            raise NotFoundError(f"no station {station_id!r}") from None

    async def estop_station(self, station_id: str, *, by: str, reason: str = "") -> Verdict:
        runtime = self.runtime(station_id)
        verdict = runtime.station.estop(source=CommandSource.STAFF, reason=reason, by=by)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(runtime.station.drive.apply_timeout_s):
                await runtime.station.drive.settle()
        return verdict

    async def release_station(self, station_id: str, *, by: str) -> Verdict:
        runtime = self.runtime(station_id)
        verdict = runtime.station.release(by=by)
        return verdict

    async def override(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> Verdict:
        runtime = self.runtime(station_id)
        station = runtime.station
        if station.drive.envelope is None:
            return Verdict(CommandOutcome.REFUSED, "this station has no actuator")
        before = station.drive.envelope.current
        verdict = station.drive.request_load(
            value, source=CommandSource.STAFF, reason=reason or "staff override", by=by
        )
        self.bus.publish(
            DecisionEvent(
                station_id=station_id,
                decision=Decision(
                    DecisionKind.STAFF_OVERRIDE,
                    station.drive.envelope.subject,
                    before,
                    verdict.target,
                    "staff_override",
                    f"{by}: {reason or 'load set by hand'} ({verdict.outcome.value}: "
                    f"{verdict.reason})",
                    {"requested": value},
                ),
                athlete_id=station.state.athlete_id,
                session_id=station.state.session_id,
            )
        )
        return verdict

    async def start_session(
        self,
        station_id: str,
        athlete_id: str,
        *,
        by: str = "system",
        session: str | None = None,
    ) -> SessionRunner | None:
        """Check an athlete in; with a plan assigned today, their session starts."""
        runtime = self.runtime(station_id)
        if runtime.state is S.SESSION_DONE:
            await self.end_session(station_id, by=by)
        if runtime.state is not S.IDLE:
            raise InvalidInputError(
                f"station {station_id} is {runtime.state.value}, not idle", where="check-in"
            )
        try:
            who = await athlete(self.store.reader, athlete_id)
        except NotFoundError:
            raise InvalidInputError(f"no athlete {athlete_id!r}", where="check-in") from None
        today = self.today()
        assignment = await todays_assignment(
            self.store.reader,
            athlete_id,
            today,
            kinds=frozenset(k.value for k in runtime.kinds),
            catalogue=self.catalogue,
            session=session,
        )
        if assignment is None:
            runtime.station.check_in(who.id, new_session_id())
            return None
        runner = SessionRunner(
            runtime,
            athlete=who,
            plan=assignment.plan,
            plan_id=assignment.plan_id,
            session_name=assignment.session,
            store=self.store,
            timing=self.options.timing,
            catalogue=self.catalogue,
            today=today,
        )
        assert self._group is not None
        self.runners[station_id] = runner
        self.sessions[station_id] = self._group.create_task(
            self._session(runner), name=f"session:{station_id}"
        )
        return runner

    async def _session(self, runner: SessionRunner) -> SessionSummary | None:
        station_id = runner.station.id
        try:
            summary = await runner.run()
        except Exception:
            log.exception("station %s: the session failed", station_id)
            return None
        finally:
            self.finished.append(runner.summary)
        after = self.options.timing.checkout_after_s
        if after is not None:
            await asyncio.sleep(after)
            self.sessions.pop(station_id, None)
            with contextlib.suppress(ControllerError):
                self._check_out(station_id, "session done")
        return summary

    def _check_out(self, station_id: str, reason: str) -> None:
        runtime = self.runtime(station_id)
        if runtime.state in (S.CHECKED_IN, S.SET_READY, S.RESTING, S.SESSION_DONE, S.FAULT):
            runtime.station.check_out(reason)

    async def end_session(self, station_id: str, *, by: str) -> Verdict:
        """Stop the athlete's session (an active set ends now) and check them out."""
        runtime = self.runtime(station_id)
        task = self.sessions.pop(station_id, None)
        current = asyncio.current_task()
        if task is not None and task is not current and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runtime.state is S.ESTOPPED:
            return Verdict(CommandOutcome.REFUSED, "release the e-stop first")
        self._check_out(station_id, f"checked out by {by}")
        return Verdict(CommandOutcome.APPLIED, "checked out")

    # -- the panel's service API (controller.service.GymService) -------------------------------

    def _snapshot(self, runtime: StationRuntime) -> StationSnapshot:
        station = runtime.station
        envelope = station.drive.envelope
        view = runtime.session
        supervisor = runtime.supervisor
        last = supervisor.last_rep
        actuator = station.actuator
        kind = actuator.capabilities.kind.value if actuator is not None else ""
        if not kind and station.adapters:
            kind = next(iter(station.adapters))
        return StationSnapshot(
            station_id=station.id,
            name=station.config.display_name,
            state=runtime.state,
            kind=kind,
            unit=envelope.unit if envelope is not None else "",
            athlete_id=station.state.athlete_id,
            session_id=station.state.session_id,
            set_id=view.set_id,
            exercise=view.exercise,
            set_index=view.set_index,
            reps=supervisor.reps,
            target_reps=view.target_reps,
            load=envelope.level if envelope is not None else None,
            target_load=(
                (envelope.pending.value if envelope.pending else envelope.target)
                if envelope is not None
                else None
            ),
            ceiling=envelope.ceiling() if envelope is not None else None,
            last_velocity_ms=last.velocity_ms if last is not None else None,
            last_zone=last.zone if last is not None else None,
            next_load=view.next_load,
            next_load_reason=view.next_load_reason,
            estopped=station.drive.estopped,
            alerts=tuple(
                ActiveAlert(a.code, a.severity, a.message, a.ts) for a in runtime.alerts.values()
            ),
            ts=time.time(),
        )

    def stations(self) -> list[StationSnapshot]:
        """Every station, in the config's order."""
        return [self._snapshot(runtime) for runtime in self.runtimes.values()]

    def station(self, station_id: str) -> StationSnapshot:
        return self._snapshot(self.runtime(station_id))

    def health(self) -> ServiceHealth:
        devices = tuple(
            DeviceHealth(adapter.device_id, runtime.id, role, adapter.link)
            for runtime in self.runtimes.values()
            for role, adapter in runtime.station.adapters.items()
        )
        return ServiceHealth(
            mqtt_connected=self.bridge.connected if self.bridge is not None else None,
            devices=devices,
            store_writable=self.store.writer.stats().writable,
            details={
                "alarms": dict(self.alarms),
                "sessions": sum(1 for t in self.sessions.values() if not t.done()),
            },
        )

    async def estop(self, station_id: str, *, by: str, reason: str = "") -> CommandResult:
        return _result(await self.estop_station(station_id, by=by, reason=reason or "panel"))

    async def release(self, station_id: str, *, by: str) -> CommandResult:
        return _result(await self.release_station(station_id, by=by))

    async def override_load(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> CommandResult:
        if not (math.isfinite(value) and value >= 0):
            raise InvalidInputError(f"{value!r} is not a load", where="load")
        verdict = await self.override(station_id, value, by=by, reason=reason)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self.runtime(station_id).station.drive.settle()
        return _result(verdict)

    async def check_in(self, station_id: str, athlete_id: str, *, by: str) -> CommandResult:
        runtime = self.runtime(station_id)
        if runtime.state not in (S.IDLE, S.SESSION_DONE):
            return CommandResult(
                CommandOutcome.REFUSED, f"the station is {runtime.state.value}, not idle"
            )
        runner = await self.start_session(station_id, athlete_id, by=by)
        if runner is None:
            return CommandResult(
                CommandOutcome.APPLIED, "checked in; no plan assigned for today: loads by staff"
            )
        return CommandResult(
            CommandOutcome.APPLIED,
            f"checked in: session {runner.session_name!r} of plan {runner.plan.title!r}",
        )

    async def check_out(self, station_id: str, *, by: str) -> CommandResult:
        return _result(await self.end_session(station_id, by=by))

    # -- for the command line and the demo ----------------------------------------------------

    async def athlete(self, athlete_id: str) -> Athlete:
        return await athlete(self.store.reader, athlete_id)

    def alert(self, code: str, message: str, *, severity: AlertSeverity) -> None:
        self.bus.publish(Alert(station_id=None, severity=severity, code=code, message=message))
