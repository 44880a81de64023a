"""A virtual serial line: two pseudo-terminals joined back to back, no socat needed.

Modbus RTU runs over a serial port; here the emulator opens one end (``port_a``) and the
adapter the other (``port_b``), both as ordinary tty paths that pyserial opens, and the
bytes travel through the kernel's pty layer exactly as they would through a USB RS-485
adapter. The pump is two readers on the event loop (no thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from types import TracebackType
from typing import Self


class PtyPair:
    """``async with PtyPair() as line:`` gives ``line.port_a`` and ``line.port_b``."""

    def __init__(self) -> None:
        self.port_a = ""
        self.port_b = ""
        self.bytes_a_to_b = 0
        self.bytes_b_to_a = 0
        self._fds: list[int] = []
        self._masters: tuple[int, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> Self:
        if self._masters is not None:
            raise RuntimeError("PtyPair is not re-entrant")
        self._loop = asyncio.get_running_loop()
        master_a, slave_a = os.openpty()
        master_b, slave_b = os.openpty()
        self._fds = [master_a, slave_a, master_b, slave_b]
        for slave in (slave_a, slave_b):
            tty.setraw(slave)  # no echo, no line editing: a byte pipe
        # Our slave descriptors stay open, so a master never reads EIO while a port is closed.
        self.port_a = os.ttyname(slave_a)
        self.port_b = os.ttyname(slave_b)
        for master in (master_a, master_b):
            os.set_blocking(master, False)
        self._masters = (master_a, master_b)
        self._loop.add_reader(master_a, self._pump, master_a, master_b, True)
        self._loop.add_reader(master_b, self._pump, master_b, master_a, False)
        return self

    def _pump(self, source: int, target: int, forward: bool) -> None:
        try:
            data = os.read(source, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            return
        with contextlib.suppress(BlockingIOError):  # a full line drops bytes, like a real one
            os.write(target, data)
        if forward:
            self.bytes_a_to_b += len(data)
        else:
            self.bytes_b_to_a += len(data)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._masters is not None and self._loop is not None:
            for master in self._masters:
                self._loop.remove_reader(master)
        self._masters = None
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds = []
