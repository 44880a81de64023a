"""The site's service API in the panel's own process: ``GymService`` over the link.

The panel's code is the same in both places it runs; here its ``gym`` is a
:class:`RemoteGym`. Snapshots and health are the controller's latest (kept fresh by its
updates, which carry the snapshot of every station an event is about before the event),
the bus is a local one that republishes the controller's events in their order, and the
staff commands go to the controller and come back with its envelope's verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final, Self

from controller.bus import EventBus
from controller.errors import NotFoundError
from controller.panel_link import (
    MAX_UPDATE_BYTES,
    Failure,
    PanelLinkError,
    PanelStart,
    json_frame,
    read_body,
)
from controller.service import CommandResult, ServiceHealth, StationSnapshot

log = logging.getLogger(__name__)

#: a command the controller has not answered in this long is reported as failed
CALL_TIMEOUT_S: Final = 15.0


class RemoteGym:
    """``controller.service.GymService`` for a panel in its own process."""

    def __init__(
        self,
        start: PanelStart,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        self._site_name = start.site_name
        self._order = [s.station_id for s in start.snapshots]
        self._snapshots = {s.station_id: s for s in start.snapshots}
        self._health = start.health
        self._reader = reader
        self._writer = writer
        self.call_timeout_s = call_timeout_s
        self.bus = EventBus()
        self._ids = itertools.count()
        self._calls: dict[int, asyncio.Future[tuple[Any, ...]]] = {}
        self._gone: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._gone = asyncio.Event()
        self._task = asyncio.create_task(self._read(), name="panel-link-reader")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()

    async def gone(self) -> None:
        """Return once the controller is gone (the link ended): the panel should stop."""
        assert self._gone is not None, "enter the RemoteGym first"
        await self._gone.wait()

    # -- GymService -------------------------------------------------------------------------

    @property
    def site_name(self) -> str:
        return self._site_name

    def stations(self) -> Sequence[StationSnapshot]:
        return [self._snapshots[station_id] for station_id in self._order]

    def station(self, station_id: str) -> StationSnapshot:
        try:
            return self._snapshots[station_id]
        except KeyError:
            raise NotFoundError(f"no station {station_id!r}") from None

    def health(self) -> ServiceHealth:
        return self._health

    async def estop(self, station_id: str, *, by: str, reason: str = "") -> CommandResult:
        return await self._call("estop", station_id, by=by, reason=reason)

    async def release(self, station_id: str, *, by: str) -> CommandResult:
        return await self._call("release", station_id, by=by)

    async def override_load(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> CommandResult:
        return await self._call("override_load", station_id, by=by, value=value, reason=reason)

    async def check_in(self, station_id: str, athlete_id: str, *, by: str) -> CommandResult:
        return await self._call("check_in", station_id, by=by, athlete=athlete_id)

    async def check_out(self, station_id: str, *, by: str) -> CommandResult:
        return await self._call("check_out", station_id, by=by)

    # -- the link -----------------------------------------------------------------------------

    async def _call(self, verb: str, station_id: str, **args: Any) -> CommandResult:
        self.station(station_id)  # an unknown station never leaves this process
        if self._gone is None or self._gone.is_set():
            raise PanelLinkError("the controller cannot be reached")
        call_id = next(self._ids)
        answer: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._calls[call_id] = answer
        try:
            self._writer.write(
                json_frame({"call": call_id, "verb": verb, "station": station_id, **args})
            )
            async with asyncio.timeout(self.call_timeout_s):
                result, snapshot, failure = await answer
        except TimeoutError:
            raise PanelLinkError(
                f"the controller did not answer {verb} within {self.call_timeout_s:g} s"
            ) from None
        finally:
            self._calls.pop(call_id, None)
        if snapshot is not None:
            self._snapshots[snapshot.station_id] = snapshot
        if isinstance(failure, Failure):
            raise failure.error()
        if not isinstance(result, CommandResult):
            raise PanelLinkError(f"the controller answered {verb} with no result")
        return result

    async def _read(self) -> None:
        try:
            while (body := await read_body(self._reader, limit=MAX_UPDATE_BYTES)) is not None:
                self._take(pickle.loads(body))
        except (PanelLinkError, ConnectionError) as exc:
            log.error("the link to the controller broke: %s", exc)
        finally:
            assert self._gone is not None
            self._gone.set()
            for answer in self._calls.values():
                if not answer.done():
                    answer.set_exception(PanelLinkError("the controller went away"))

    def _take(self, message: tuple[Any, ...]) -> None:
        match message:
            case ("update", snapshots, events):
                for snapshot in snapshots:  # first: the events' readers may ask for them
                    self._snapshots[snapshot.station_id] = snapshot
                for event in events:
                    self.bus.publish(event)
            case ("health", health):
                self._health = health
            case ("answer", call_id, result, snapshot, failure):
                answer = self._calls.get(call_id)
                if answer is not None and not answer.done():
                    answer.set_result((result, snapshot, failure))
            case _:
                log.warning("the controller sent an unknown message %r", message[:1])
