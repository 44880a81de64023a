"""The embedded MQTT broker (amqtt), for sites and demos without a broker of their own.

Loopback only, always: amqtt's own default would listen on 0.0.0.0:1883 without
authentication, which is not something a gym's controller should open by accident. A real
site that needs MQTT beyond this machine runs Mosquitto (password file, ACL, TLS) and
configures ``mqtt.host``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
from types import TracebackType
from typing import Any, Self

from amqtt.broker import Broker

from controller.errors import ConfigError, MqttBridgeError

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker on ``host:port`` (loopback); an async context manager."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        max_connections: int = 256,
        shutdown_timeout_s: float = 5.0,
    ) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ConfigError(
                f"the embedded broker listens on loopback only, not {host!r}; run Mosquitto "
                "for a broker other machines can reach",
                where="mqtt.host",
            )
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.shutdown_timeout_s = shutdown_timeout_s
        self._broker: Broker | None = None
        self._before: set[asyncio.Task[Any]] = set()

    def config(self) -> dict[str, Any]:
        return {
            "listeners": {
                "default": {
                    "type": "tcp",
                    "bind": f"{self.host}:{self.port}",
                    "max_connections": self.max_connections,
                }
            },
            # loopback only, so anonymous clients are the local controller and tools
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    async def __aenter__(self) -> Self:
        broker = Broker(self.config())
        self._before = asyncio.all_tasks()
        try:
            await broker.start()
        except Exception as exc:
            raise MqttBridgeError(
                f"the embedded MQTT broker cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self._broker = broker
        log.info("embedded MQTT broker on %s:%d", self.host, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broker, self._broker = self._broker, None
        if broker is None:
            return
        try:
            async with asyncio.timeout(self.shutdown_timeout_s):
                await broker.shutdown()
        except TimeoutError:
            # amqtt waits, unbounded, for each client session's reader to stop; a session
            # stuck there must not keep the controller from stopping
            log.warning(
                "the embedded MQTT broker did not stop within %g s; closing its listener",
                self.shutdown_timeout_s,
            )
            for server in getattr(broker, "_servers", {}).values():  # amqtt has no public way
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await server.close_instance()
            # and its tasks (the broadcast loop, client sessions) end with it, not later
            left = [t for t in _amqtt_tasks() if t not in self._before]
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left, timeout=1.0)
        finally:
            self._before = set()


def _amqtt_tasks() -> list[asyncio.Task[Any]]:
    """The pending tasks running amqtt's code."""
    marker = f"{os.sep}amqtt{os.sep}"
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and marker in code.co_filename:
            found.append(task)
    return found
