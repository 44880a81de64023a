"""Serving the panel on the controller's own event loop.

``PanelServer`` is an async context manager around uvicorn's ``Server``: it binds the
socket itself (a port in use is a clear error, not uvicorn's ``sys.exit``), runs the
server as a named task of its task group, and leaves signals to the controller (uvicorn
would otherwise take over SIGINT and SIGTERM). The controller enters it inside its own
``TaskGroup``::

    app = create_app(gym, store, PanelSettings())
    async with PanelServer(app, host=config.panel.host, port=config.panel.port) as panel:
        ...  # panel.url is where staff open it
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

from controller.errors import ControllerError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 10.0


class PanelStartError(ControllerError):
    """The panel could not start (its port is taken, its lifespan failed)."""


def listen_socket(host: str, port: int) -> socket.socket:
    """The panel's listening socket (port 0: a free one), or ``PanelStartError``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        raise PanelStartError(
            f"the panel cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The controller owns the process's signals; it stops the panel itself."""
        yield


class PanelServer:
    """The panel's HTTP server as an async context manager on the running loop."""

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        shutdown_timeout_s: int = 3,
        sock: socket.socket | None = None,
    ) -> None:
        """``sock``: a listening socket bound already (a panel in its own process serves
        the one its controller bound); without it the server binds ``host``:``port``."""
        self.app = app
        self.host = host
        self.port = port
        self._given = sock
        if sock is not None:
            self.host, self.port = str(sock.getsockname()[0]), int(sock.getsockname()[1])
        self._config = uvicorn.Config(
            app,
            lifespan="on",
            http="httptools",  # the C parser: the panel shares the stations' loop
            log_config=None,
            access_log=False,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            timeout_graceful_shutdown=shutdown_timeout_s,
            proxy_headers=False,
            server_header=False,
        )
        self._server = _Server(self._config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self._config.ssl_certfile else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def _bind(self) -> socket.socket:
        if self._given is not None:
            self._given.setblocking(False)
            return self._given
        sock = listen_socket(self.host, self.port)
        self.port = int(sock.getsockname()[1])
        return sock

    async def _serve(self, sock: socket.socket) -> None:
        try:
            await self._server.serve(sockets=[sock])
        except SystemExit:  # uvicorn's way of saying the lifespan failed
            raise PanelStartError("the panel's startup failed (see the log)") from None

    async def __aenter__(self) -> Self:
        self._socket = self._bind()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._task = self._group.create_task(self._serve(self._socket), name="panel-server")
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT_S):
                while not self._server.started:
                    if self._task.done():
                        break
                    await asyncio.sleep(0.01)
        except BaseException:
            await self._stop()
            raise
        if not self._server.started:
            await self._stop()
            raise PanelStartError("the panel did not start")
        if self._config.ssl_certfile is None and self.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("the panel serves plain HTTP on %s: use TLS on a shared network", self.url)
        log.info("panel on %s", self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        runtime = getattr(self.app.state, "runtime", None)
        if runtime is not None:
            runtime.live.close()  # ends the live feeds, so the server need not wait for them
        self._server.should_exit = True
        try:
            if self._group is not None:
                group, self._group = self._group, None
                await group.__aexit__(None, None, None)
        except BaseExceptionGroup as group_error:
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        finally:
            if self._socket is not None:
                self._socket.close()
                self._socket = None
