"""The panel in a process of its own (``panel.own_process``), supervised by the controller.

The panel on the stations' loop shares that loop and the process's GIL with every
station: fifty browsers' frames and the API's reads delay the stations' ticks and cues.
Here the controller binds the panel's port, starts ``python -m web_ui.process`` with the
listening socket and one end of a ``socketpair``, and keeps on its own loop only what
the panel cannot do without: the events it follows (batched every ``FORWARD_EVERY_S``
with fresh snapshots of the stations they are about), the site's health once a second,
and the staff commands, which it checks and runs through the stations' envelopes as for
the panel inside (``controller.panel_link`` has the wire). The panel's process opens the
store itself (its own reader and writer on the same file; the controller's store keeps
the retention purge) and runs under ``SCHED_IDLE`` (Linux; a higher nice value
elsewhere): it gets the cores the stations leave idle, and a station's loop waking
preempts it at once. The load benchmark measured the loop's thread waiting for a core
1.5-1.8 % of a window with the panel under ``SCHED_IDLE``, 2.4-2.9 % at nice 5. Under a
saturated CPU the panel slows first; e-stops also come from the devices and MQTT.

If the panel's process exits or stops reading, the controller alerts (``panel_down``),
starts it again with a growing pause, and clears the alert once it serves; the stations
are not touched. The listening socket stays bound across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from controller.errors import ControllerError
from controller.events import Alert, AlertSeverity, Telemetry
from controller.panel_link import (
    MAX_CALL_BYTES,
    Call,
    Failure,
    PanelLinkError,
    PanelStart,
    parse_call,
    parse_message,
    pickled_frame,
    read_body,
)
from controller.service import CommandResult, StationSnapshot
from kernels.errors import GymctlError

if TYPE_CHECKING:
    from controller.gym import Gym

log = logging.getLogger(__name__)

#: events are sent in batches gathered for this long (the panel folds every 20 ms anyway)
FORWARD_EVERY_S: Final = 0.02
#: at most this many events per frame: a backlog goes out in frames, the loop turning between
FORWARD_MAX_EVENTS: Final = 200
#: the panel's process runs under SCHED_IDLE, or where it cannot at this nice value
PANEL_NICE: Final = 10
#: a panel that has not taken what was sent for this long is stuck: it is restarted
STUCK_S: Final = 5.0
#: the same bound on events held for the panel as the panel's own subscription inside
RELIABLE_BOUND: Final = 50_000
LATEST_BOUND: Final = 2048
HEALTH_EVERY_S: Final = 1.0
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
#: how long a terminated, then a killed, process is waited for
KILL_WAIT_S: Final = 3.0
RESTART_PAUSES_S: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
#: a child that served this long before it stopped starts the pauses from the first again
STEADY_S: Final = 60.0


class PanelProcess:
    """The panel's child process and its link, as the site's ``panel`` component."""

    def __init__(
        self,
        gym: Gym,
        settings: Any,
        *,
        host: str,
        port: int,
        idle: bool = True,
        nice: int = PANEL_NICE,
        python: str = sys.executable,
    ) -> None:
        self.gym = gym
        self.settings = settings
        self.host = host
        self.port = port
        self.idle = idle
        self.nice = nice
        self.python = python
        self.restarts = 0
        self.url = ""
        self.pid: int | None = None
        self._listen: socket.socket | None = None
        self._stopping: asyncio.Event | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._child: _Child | None = None  #: the current life of the process

    async def __aenter__(self) -> Self:
        from web_ui.server import listen_socket  # the panel's packages load only when served

        self._listen = listen_socket(self.host, self.port)
        self.port = int(self._listen.getsockname()[1])
        self._stopping = asyncio.Event()
        try:
            self._child = await _Child.start(self)
        except BaseException:
            self._listen.close()
            raise
        self._supervisor = asyncio.create_task(
            self._supervise(self._child), name="panel-supervisor"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stopping is not None
        assert self._supervisor is not None
        self._stopping.set()  # the child's life ends by itself: its process is stopped
        try:
            # the child's stop: the link closed, then terminate, then kill, each waited for
            async with asyncio.timeout(STOP_TIMEOUT_S + 2 * KILL_WAIT_S + 2.0):
                await asyncio.shield(self._supervisor)
        except TimeoutError:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            if self._child is not None and self._child.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._child.proc.kill()
        finally:
            if self._listen is not None:
                self._listen.close()
                self._listen = None

    async def _supervise(self, child: _Child) -> None:
        assert self._stopping is not None
        pause = 0
        while True:
            started = time.monotonic()
            why = await child.live(self._stopping)
            if self._stopping.is_set():
                return
            self.restarts += 1
            if time.monotonic() - started >= STEADY_S:  # not a crash loop: start afresh
                pause = 0
            wait = RESTART_PAUSES_S[min(pause, len(RESTART_PAUSES_S) - 1)]
            pause += 1
            self.gym.alert(
                "panel_down",
                f"the panel's process stopped ({why}); starting it again in {wait:g} s",
                severity=AlertSeverity.WARNING,
            )
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._stopping.wait()
                if self._stopping.is_set():
                    return
                try:
                    child = self._child = await _Child.start(self)
                except (ControllerError, OSError) as exc:
                    log.error("the panel's process did not start again: %s", exc)
                    wait = RESTART_PAUSES_S[min(pause, len(RESTART_PAUSES_S) - 1)]
                    pause += 1
                    continue
                break
            self.gym.bus.publish(
                Alert(
                    station_id=None,
                    severity=AlertSeverity.INFO,
                    code="panel_down",
                    message=f"the panel serves again on {self.url}",
                    cleared=True,
                )
            )


class _Child:
    """One life of the panel's process: started, served, stopped."""

    def __init__(
        self,
        owner: PanelProcess,
        proc: asyncio.subprocess.Process,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        subscription: Any,
    ) -> None:
        self.owner = owner
        self.proc = proc
        self.reader = reader
        self.writer = writer
        self.sub = subscription

    @classmethod
    async def start(cls, owner: PanelProcess) -> _Child:
        """Start the process, hand it the site, and return once its server listens."""
        gym = owner.gym
        assert owner._listen is not None
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                owner.python,
                "-m",
                "web_ui.process",
                "--link-fd",
                str(theirs.fileno()),
                "--listen-fd",
                str(owner._listen.fileno()),
                *(["--idle"] if owner.idle else []),
                "--nice",
                str(owner.nice),
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(), owner._listen.fileno()),
                start_new_session=True,  # a terminal's Ctrl-C reaches the controller only
            )
        except OSError as exc:
            ours.close()
            raise PanelLinkError(f"cannot start the panel's process: {exc}") from None
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=MAX_CALL_BYTES)
        # subscribed before the snapshots are taken: nothing falls between the two
        sub = gym.bus.subscribe(
            "panel-process", reliable_bound=RELIABLE_BOUND, latest_bound=LATEST_BOUND
        )
        child = cls(owner, proc, reader, writer, sub)
        try:
            start = PanelStart(
                site_name=gym.site_name,
                db_path=gym.db_path,
                store=gym.store.config_settings,
                settings=owner.settings,
                snapshots=tuple(gym.stations()),
                health=gym.health(),
                log_level=logging.getLogger().getEffectiveLevel(),
            )
            writer.write(pickled_frame(("start", start)))
            try:
                async with asyncio.timeout(START_TIMEOUT_S):
                    await writer.drain()
                    body = await read_body(reader, limit=MAX_CALL_BYTES)
            except ConnectionError:
                body = None
            if body is None:
                raise PanelLinkError(await child.exited("while starting"))
            url = parse_message(body).get("ready")
            if not isinstance(url, str):
                raise PanelLinkError("the panel's process answered its start with no 'ready'")
        except TimeoutError:
            await child.stop()
            raise PanelLinkError(
                f"the panel's process did not serve within {START_TIMEOUT_S:g} s"
            ) from None
        except BaseException:
            await child.stop()
            raise
        owner.url, owner.pid = url, proc.pid
        log.info("panel in process %d on %s", proc.pid, url)
        return child

    async def live(self, stopping: asyncio.Event) -> str:
        """Serve the child until it ends or the controller stops; says why it ended."""
        why = "stopped"
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._forward(), name="panel-forward"),
                    group.create_task(self._health(), name="panel-health"),
                    group.create_task(self._calls(group), name="panel-calls"),
                    group.create_task(self.proc.wait(), name="panel-process-wait"),
                    group.create_task(stopping.wait(), name="panel-stop-wait"),
                ]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finished = done.pop()
                if finished is tasks[3]:
                    why = f"exit code {finished.result()}"
                elif finished is tasks[2]:
                    why = "the link closed"
                for task in tasks:
                    task.cancel()
        except* (PanelLinkError, TimeoutError, ConnectionError) as group_error:
            why = "; ".join(str(e) or type(e).__name__ for e in group_error.exceptions)
        except* Exception as group_error:  # a fault of ours: logged, and the panel restarted
            for error in group_error.exceptions:
                log.error("the panel's link failed", exc_info=error)
            why = "the link failed (see the log)"
        finally:
            await self.stop()
        if not stopping.is_set():
            log.error("the panel's process ended: %s", why)
        return why

    async def exited(self, when: str) -> str:
        """Why the link ended: the process's exit code, if it exits soon."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                return f"the panel's process exited {when} (code {await self.proc.wait()})"
        return f"the panel's process closed the link {when}"

    async def stop(self) -> None:
        """End the link (the child leaves on its own), then terminate or kill it."""
        self.sub.close()
        # abort, not close: a close waits to send what is buffered, which a stuck child
        # never reads; what was not sent does not matter to a child that is leaving
        self.writer.transport.abort()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
        for step in ("wait", "terminate", "kill"):
            if step == "terminate":
                with contextlib.suppress(ProcessLookupError):
                    self.proc.terminate()
            elif step == "kill":
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT_S if step == "wait" else KILL_WAIT_S):
                    await self.proc.wait()
            if self.proc.returncode is not None:
                return
        log.error("the panel's process %d does not exit", self.proc.pid)

    async def _forward(self) -> None:
        gym, sub, writer = self.owner.gym, self.sub, self.writer
        while True:
            first = await sub.get()
            await asyncio.sleep(FORWARD_EVERY_S)  # what comes meanwhile goes in the same frame
            backlog = [first, *sub.drain()]
            for at in range(0, len(backlog), FORWARD_MAX_EVENTS):
                events = backlog[at : at + FORWARD_MAX_EVENTS]
                about = {
                    e.station_id
                    for e in events
                    if e.station_id is not None and not isinstance(e, Telemetry)
                }
                snapshots = tuple(
                    gym.station(station_id) for station_id in about if station_id in gym.runtimes
                )
                writer.write(pickled_frame(("update", snapshots, events)))
                try:
                    async with asyncio.timeout(STUCK_S):
                        await writer.drain()
                except TimeoutError:
                    raise PanelLinkError(
                        f"it has not read what was sent for {STUCK_S:g} s"
                    ) from None

    async def _health(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_EVERY_S)
            self.writer.write(pickled_frame(("health", self.owner.gym.health())))

    async def _calls(self, group: asyncio.TaskGroup) -> None:
        while (body := await read_body(self.reader, limit=MAX_CALL_BYTES)) is not None:
            call = parse_call(parse_message(body))
            group.create_task(self._answer(call), name=f"panel-call-{call.verb}")

    async def _answer(self, call: Call) -> None:
        gym = self.owner.gym
        result: CommandResult | None = None
        snapshot: StationSnapshot | None = None
        failure: Failure | None = None
        try:
            match call.verb:
                case "estop":
                    result = await gym.estop(call.station, by=call.by, reason=call.reason)
                case "release":
                    result = await gym.release(call.station, by=call.by)
                case "override_load":
                    assert call.value is not None
                    result = await gym.override_load(
                        call.station, call.value, by=call.by, reason=call.reason
                    )
                case "check_in":
                    assert call.athlete is not None
                    result = await gym.check_in(call.station, call.athlete, by=call.by)
                case "check_out":
                    result = await gym.check_out(call.station, by=call.by)
            snapshot = gym.station(call.station)
        except GymctlError as exc:
            failure = Failure.of(exc)
        except Exception:
            log.exception("the panel's %s of %s failed", call.verb, call.station)
            failure = Failure("controller", f"the controller failed to {call.verb}")
        if not self.writer.is_closing():
            self.writer.write(pickled_frame(("answer", call.call_id, result, snapshot, failure)))
