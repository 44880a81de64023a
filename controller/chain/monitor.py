"""The chain view's MQTT client: it subscribes to every site at the central broker.

An async context manager running the documented aiomqtt loop (``async with Client``,
subscribe, read, reconnect with backoff) as a named task, folding each message into a
:class:`~controller.chain.model.ChainView`. A clean session: the picture comes back from
the retained bridge notifications, controller statuses and station states after every
reconnection; events sent while the view was away are not replayed (the sites' stores
hold them).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import aiomqtt

from controller.chain.model import ChainView

log = logging.getLogger(__name__)


class ChainMonitor:
    def __init__(
        self,
        view: ChainView,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        identifier: str | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.view = view
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.tls_context = tls_context
        self.identifier = identifier
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.clock = clock
        self.connected = False
        self.connections = 0
        self._changed: asyncio.Event | None = None
        self._group: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._changed = asyncio.Event()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._task = self._group.create_task(self._run(), name="hq-monitor")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        if self._task is not None:
            self._task.cancel()
        await self._group.__aexit__(None, None, None)

    async def wait_change(self, version: int, within_s: float) -> None:
        """Return when the view's version moved past ``version``, or after ``within_s``."""
        changed = self._changed
        assert changed is not None
        if self.view.version != version:
            return
        try:
            async with asyncio.timeout(within_s):
                await changed.wait()
        except TimeoutError:
            pass

    def _notify(self) -> None:
        """Wake every waiter; later waiters wait on a fresh event."""
        assert self._changed is not None
        self._changed.set()
        self._changed = asyncio.Event()

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        warned = False
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    tls_context=self.tls_context,
                    identifier=self.identifier,
                    clean_session=True,
                    keepalive=30,
                    timeout=10,
                ) as client:
                    await client.subscribe(self.view.topics.subscription, qos=1)
                    self.connected = True
                    self.connections += 1
                    warned = False
                    delay = self.reconnect_min_s
                    log.info("hq: reading %s:%d", self.host, self.port)
                    self.view.version += 1
                    self._notify()
                    async for message in client.messages:
                        payload = message.payload
                        raw = payload if isinstance(payload, bytes | bytearray) else b""
                        if self.view.apply(message.topic.value, bytes(raw), self.clock()):
                            self._notify()
            except aiomqtt.MqttError as exc:
                if not warned:
                    log.warning(
                        "hq: central broker %s:%d unavailable (%s)", self.host, self.port, exc
                    )
                    warned = True
            finally:
                if self.connected:
                    self.connected = False
                    self.view.version += 1
                    self._notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)
