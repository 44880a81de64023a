"""The site's event loop: the stations' drives go before the panel's work.

asyncio runs ready callbacks first come, first served. On a site that also serves the
panel, a drive woken by a rep's cue (or by a safe-state command) waited behind every panel
step already queued in the same turn of the loop: under load a few milliseconds, while the
cue itself takes a tenth of one. :class:`ControlLoop` keeps a second, short lane: what is
scheduled inside :meth:`ControlLoop.first` runs right after the callback that scheduled it,
before anything else that is ready, in the order it was scheduled. Nothing is preempted (a
callback still runs to its end), and only the drives use the lane, so it cannot starve the
rest: a drive's step is a few commands to its devices.

``run`` runs a coroutine on a fresh :class:`ControlLoop`, as ``asyncio.run`` does; on any
other loop :func:`first` does nothing, so code that uses it still runs (at plain priority)
under a test's or an embedding application's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextvars import Context
from typing import Any, TypeVar, TypeVarTuple

__all__ = ["ControlLoop", "first", "run"]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class ControlLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a first lane for the control path."""

    def __init__(self) -> None:
        super().__init__()
        self._first_depth = 0
        self._first_lane: deque[asyncio.Handle] = deque()
        self._lane_queued = False  #: the handle that runs the lane is in the ready queue

    @contextlib.contextmanager
    def first(self) -> Iterator[None]:
        """What is scheduled with ``call_soon`` inside this block (a task woken by an event
        set here, a task created here) runs next, ahead of the other ready callbacks."""
        self._first_depth += 1
        try:
            yield
        finally:
            self._first_depth -= 1

    def call_soon(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.Handle:
        handle = super().call_soon(callback, *args, context=context)
        if self._first_depth:
            ready: deque[asyncio.Handle] = self._ready  # type: ignore[attr-defined]
            if ready and ready[-1] is handle:  # BaseEventLoop appends what it schedules
                ready.pop()
                self._first_lane.append(handle)
                if not self._lane_queued:
                    self._lane_queued = True
                    ready.appendleft(asyncio.Handle(self._run_first_lane, (), self))
        return handle

    def _run_first_lane(self) -> None:
        self._lane_queued = False
        lane = self._first_lane
        while lane:
            handle = lane.popleft()
            if not handle.cancelled():
                # a handle reports its callback's error to the loop's handler and goes on
                handle._run()


def first(loop: asyncio.AbstractEventLoop | None) -> contextlib.AbstractContextManager[None]:
    """:meth:`ControlLoop.first` on ``loop``, or nothing on another kind of loop."""
    return loop.first() if isinstance(loop, ControlLoop) else contextlib.nullcontext()


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run`` on a :class:`ControlLoop`: how the site's commands run."""
    with asyncio.Runner(loop_factory=ControlLoop) as runner:
        return runner.run(main)
