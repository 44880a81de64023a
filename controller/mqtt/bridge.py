"""The MQTT bridge: bus events out to the broker, commands in from it.

Out: every event the bus carries that ``payloads.message_for`` publishes goes into an
ordered outbox; one task publishes it in order, at QoS 1, taking an event off the outbox
only once the broker acknowledged it, so events published while the broker is away wait
(up to ``mqtt.buffer_limit``, then the oldest are dropped, counted and alerted) and go out
in order after the reconnection (at least once: after a lost acknowledgement a message may
come twice; ``boot`` and ``seq`` in the payload let consumers drop the copy). With a
``durable`` feed (the site's store), the records in ``payloads.DURABLE_FIRST`` (reps, sets,
decisions, sessions, readiness) do not come from the bus but from the store after the commit
that holds them, in the order they were published: a consumer never holds one that the
database lacks, even after a crash, at the cost of one commit interval of delay (and while
the store cannot write, they wait with it). ``seq`` is given as a message enters the
outbox, so it rises in publication order. Station states
are retained and republished after every reconnection. Telemetry is not queued: the newest
value of each channel goes out ``telemetry_hz`` times a second at QoS 0 while connected.

In: ``<base>/station/+/cmd/+`` at QoS 1. Each message is validated
(``commands.parse_command``) and checked against replays; a refused one is logged with
its reason and published as a refused ``CommandEvent``, never applied. An accepted one is
handed to ``on_command`` as a typed command (the station's envelope, via
``commands.dispatch``).

The connection is the documented aiomqtt pattern: a loop around ``async with Client``,
re-subscribing after each reconnection, with backoff; ``controller/status`` is retained
``online`` once connected, ``offline`` on a clean stop and as the will otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import ssl
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import aiomqtt

from controller.bus import EventBus, Subscription
from controller.config import MqttConfig, TlsConfig
from controller.errors import CommandRejectedError, StoreError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    Event,
    Telemetry,
)
from controller.mqtt.commands import AnyCommand, ReplayGuard, parse_command
from controller.mqtt.payloads import DURABLE_FIRST, LEAVES, Outgoing, message_for
from controller.mqtt.topics import Topics

log = logging.getLogger(__name__)

CommandHandler = Callable[[AnyCommand], object]


class CommitFeed(Protocol):
    """Where committed events come from (``controller.store.Store``)."""

    def on_committed(self, listener: Callable[[Sequence[Event]], None]) -> Callable[[], None]:
        """Call ``listener`` on the loop with each committed batch; return its remover."""
        ...

    async def flush(self) -> None:
        """Return once what the bus delivered so far is committed and handed back."""
        ...


@dataclass(frozen=True, slots=True)
class BridgeStats:
    connected: bool
    connections: int
    published: int
    backlog: int
    dropped: int  #: events dropped because the outbox was full while the broker was away
    refused: int  #: commands refused
    accepted: int


def tls_context(tls: TlsConfig, base_dir: Path | None = None) -> ssl.SSLContext:
    """The client's TLS context from the config (blocking: reads certificate files)."""

    def resolve(name: str | None) -> str | None:
        if name is None:
            return None
        path = Path(name)
        return str(path if path.is_absolute() or base_dir is None else base_dir / path)

    context = ssl.create_default_context(cafile=resolve(tls.ca_file))
    if tls.cert_file is not None:
        cert, key = resolve(tls.cert_file), resolve(tls.key_file)
        assert cert is not None
        context.load_cert_chain(cert, key)
    if tls.insecure:
        context.check_hostname = False
    return context


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (a password sent there never crosses a wire)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Delivered(asyncio.CancelledError):
    """The task was cancelled, and the message it was publishing went out all the same."""


async def _publish(
    client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool
) -> None:
    """``client.publish`` that never loses a cancellation.

    aiomqtt waits for the broker's acknowledgement with ``asyncio.wait_for``, which on
    Python 3.11 returns the result and drops a cancellation that arrives at the moment the
    acknowledgement does. The publishing task then ran on, "cancelling" but never cancelled
    again, and the bridge's shutdown waited for it forever (``gymctl run`` ignoring SIGINT
    once in a few runs). A cancellation seen after the publish is raised here: as
    :class:`_Delivered` (a ``CancelledError``), since the message did go out.
    """
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    await client.publish(topic, payload, qos=qos, retain=retain)
    if task is not None and task.cancelling() > before:
        raise _Delivered()


class MqttBridge:
    """The site's MQTT client; an async context manager running until it is left."""

    def __init__(
        self,
        *,
        settings: MqttConfig,
        site_id: str,
        bus: EventBus,
        on_command: CommandHandler | None = None,
        durable: CommitFeed | None = None,
        stations: Collection[str] | None = None,
        host: str | None = None,
        port: int | None = None,
        base_dir: Path | None = None,
        identifier: str | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        drain_timeout_s: float = 5.0,
        connect_timeout_s: float = 10.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix, site_id)
        self.bus = bus
        self.on_command = on_command
        self.durable = durable
        self.stations = frozenset(stations) if stations is not None else None
        self.host = host or settings.host or "127.0.0.1"
        self.port = port or settings.port
        self.base_dir = base_dir
        self.identifier = identifier or settings.client_id or f"gymctl-{site_id}-controller"
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.drain_timeout_s = drain_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.wall_clock = wall_clock
        self.guard = ReplayGuard()
        self.boot = secrets.token_hex(4)
        self._outbox: deque[Outgoing] = deque()
        self._last_state: dict[str, Outgoing] = {}
        self._telemetry: dict[tuple[str, str, str], Telemetry] = {}
        self._seq = 0
        self._overflowing = False
        self._client: aiomqtt.Client | None = None
        self._ready: asyncio.Event | None = None
        self._empty: asyncio.Event | None = None  #: set each time the outbox has gone out
        self._connected_event: asyncio.Event | None = None
        self._subscription: Subscription | None = None
        self._stop_feed: Callable[[], None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._tls: ssl.SSLContext | None = None
        self.connected = False
        self.connections = 0
        self.published = 0
        self.dropped = 0
        self.refused = 0
        self.accepted = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self.settings.tls is not None:
            self._tls = await asyncio.to_thread(tls_context, self.settings.tls, self.base_dir)
        elif self.settings.password is not None and not is_loopback(self.host):
            log.warning(
                "MQTT: the password of %r goes to %s:%d in clear text: configure [mqtt.tls]",
                self.settings.username,
                self.host,
                self.port,
            )
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._connected_event = asyncio.Event()
        live = [kind for kind in LEAVES if self.durable is None or kind not in DURABLE_FIRST]
        self._subscription = self.bus.subscribe(
            "mqtt",
            types=live,
            reliable_bound=max(self.settings.buffer_limit, 1000),
            latest_bound=4096,
        )
        if self.durable is not None:
            self._stop_feed = self.durable.on_committed(self._committed)
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._tasks = [
            self._group.create_task(self._pump(), name="mqtt-pump"),
            self._group.create_task(self._connection(), name="mqtt-connection"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        try:
            if self.durable is not None and self.connected:
                # what the stations recorded before the stop goes out after its commit
                with contextlib.suppress(StoreError, TimeoutError):
                    async with asyncio.timeout(self.drain_timeout_s):
                        await self.durable.flush()
            if self._subscription is not None:
                for event in self._subscription.drain():
                    self._take(event)
                assert self._ready is not None
                self._ready.set()
            if self.connected and self._outbox:  # a clean stop: let the outbox go out
                assert self._empty is not None
                self._empty.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.drain_timeout_s):
                        await self._empty.wait()
            client = self._client
            if client is not None and self.connected:
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        await client.publish(self.topics.status, b"offline", qos=1, retain=True)
        finally:
            if self._stop_feed is not None:
                self._stop_feed()
            for task in self._tasks:
                task.cancel()
            await self._group.__aexit__(None, None, None)
            if self._subscription is not None:
                self._subscription.close()

    def stats(self) -> BridgeStats:
        return BridgeStats(
            self.connected,
            self.connections,
            self.published,
            len(self._outbox),
            self.dropped,
            self.refused,
            self.accepted,
        )

    async def wait_connected(self) -> None:
        assert self._connected_event is not None
        await self._connected_event.wait()

    # -- out: bus to outbox ---------------------------------------------------------------

    async def _pump(self) -> None:
        assert self._subscription is not None
        assert self._ready is not None
        while True:
            self._take(await self._subscription.get())
            for event in self._subscription.drain():
                self._take(event)
            self._ready.set()

    def _committed(self, events: Sequence[Event]) -> None:
        """The store committed these (in order): the durable-first ones go out now."""
        taken = False
        for event in events:
            if type(event) in DURABLE_FIRST:
                self._take(event)
                taken = True
        if taken and self._ready is not None:
            self._ready.set()

    def _take(self, event: Event) -> None:
        if isinstance(event, Telemetry):
            if self.settings.telemetry_hz > 0:
                key = (event.station_id or "", event.device_id, event.channel)
                self._telemetry[key] = event
            return
        self._seq += 1
        message = message_for(
            event,
            self.topics,
            personal_data=self.settings.personal_data,
            seq=self._seq,
            boot=self.boot,
        )
        if message is None:
            return
        if message.retain and event.station_id is not None:
            self._last_state[event.station_id] = message
        self._outbox.append(message)
        if len(self._outbox) > self.settings.buffer_limit:
            self._outbox.popleft()
            self.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                text = (
                    f"MQTT outbox full ({self.settings.buffer_limit} events) while the broker "
                    "is away: the oldest events are dropped from MQTT (the store keeps them)"
                )
                log.error(text)
                self.bus.publish(
                    Alert(
                        station_id=None,
                        severity=AlertSeverity.WARNING,
                        code="mqtt_outbox_full",
                        message=text,
                    )
                )

    # -- the connection -------------------------------------------------------------------

    def _client_for(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.settings.username,
            password=self.settings.password,
            identifier=self.identifier,
            will=aiomqtt.Will(self.topics.status, b"offline", qos=1, retain=True),
            keepalive=self.settings.keepalive_s,
            tls_context=self._tls,
            timeout=self.connect_timeout_s,
        )

    async def _connection(self) -> None:
        assert self._connected_event is not None
        delay = self.reconnect_min_s
        failing_since: float | None = None
        while True:
            try:
                async with self._client_for() as client:
                    self._client = client
                    await client.publish(self.topics.status, b"online", qos=1, retain=True)
                    await client.subscribe(self.topics.command_filter, qos=1)
                    self.connected = True
                    self.connections += 1
                    self._connected_event.set()
                    if failing_since is not None:
                        log.info(
                            "MQTT: connected again to %s:%d after %.1f s",
                            self.host,
                            self.port,
                            time.monotonic() - failing_since,
                        )
                    else:
                        log.info("MQTT: connected to %s:%d", self.host, self.port)
                    failing_since = None
                    delay = self.reconnect_min_s
                    self._telemetry.clear()  # what was queued while away is stale
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._publisher(client), name="mqtt-publisher")
                        group.create_task(self._receiver(client), name="mqtt-receiver")
                        if self.settings.telemetry_hz > 0:
                            group.create_task(self._telemetry_out(client), name="mqtt-telemetry")
            except* aiomqtt.MqttError as group_error:
                problem = "; ".join(str(e) for e in group_error.exceptions)
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning(
                        "MQTT: broker %s:%d unavailable (%s); %d events wait, retrying",
                        self.host,
                        self.port,
                        problem,
                        len(self._outbox),
                    )
                else:
                    log.debug("MQTT: still unavailable: %s", problem)
            finally:
                self.connected = False
                self._client = None
                self._connected_event.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _publisher(self, client: aiomqtt.Client) -> None:
        assert self._ready is not None
        assert self._empty is not None
        republish_states = True
        while True:
            while self._outbox:
                message = self._outbox.popleft()
                try:
                    await _publish(
                        client, message.topic, message.payload, message.qos, message.retain
                    )
                except _Delivered:
                    self.published += 1  # gone out, then the task stops
                    raise
                except BaseException:
                    self._outbox.appendleft(message)  # not acknowledged: it goes out again
                    raise
                self.published += 1
            if self._overflowing:
                self._overflowing = False
                log.warning("MQTT: outbox drained; %d events were dropped while away", self.dropped)
            if republish_states:  # the broker may have lost its retained messages
                republish_states = False
                for message in list(self._last_state.values()):
                    await _publish(client, message.topic, message.payload, 1, True)
            self._ready.clear()
            if not self._outbox:
                self._empty.set()
                await self._ready.wait()

    async def _telemetry_out(self, client: aiomqtt.Client) -> None:
        period = 1.0 / self.settings.telemetry_hz
        while True:
            await asyncio.sleep(period)
            latest, self._telemetry = self._telemetry, {}
            for event in latest.values():
                self._seq += 1
                message = message_for(
                    event,
                    self.topics,
                    personal_data=self.settings.personal_data,
                    seq=self._seq,
                    boot=self.boot,
                )
                if message is not None:
                    await _publish(client, message.topic, message.payload, 0, False)

    # -- in: commands ---------------------------------------------------------------------

    async def _receiver(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            raw = bytes(message.payload or b"")
            self.handle_message(message.topic.value, raw, retained=bool(message.retain))

    def handle_message(self, topic: str, payload: bytes, *, retained: bool = False) -> None:
        """Validate one command message and hand it on, or refuse it with a clear log line."""
        now = self.wall_clock()
        try:
            command = parse_command(
                topic,
                payload,
                topics=self.topics,
                now=now,
                max_age_s=self.settings.command_max_age_s,
                retained=retained,
                stations=self.stations,
            )
            self.guard.check(command, now=now, where=topic)
        except CommandRejectedError as exc:
            self.refused += 1
            log.warning("MQTT: refused command: %s", exc)
            station, verb = None, topic.rsplit("/", 1)[-1][:32]
            with contextlib.suppress(CommandRejectedError):
                station, verb = self.topics.parse_command(topic)
            if self.stations is not None and station not in self.stations:
                station = None
            self.bus.publish(
                CommandEvent(
                    station_id=station,
                    source=CommandSource.MQTT,
                    verb=verb,
                    outcome=CommandOutcome.REFUSED,
                    reason=exc.problem,
                )
            )
            return
        self.accepted += 1
        log.info("MQTT: %s for %s from %s", command.VERB, command.station_id, command.by)
        if self.on_command is not None:
            try:
                self.on_command(command)
            except Exception:
                log.exception(
                    "MQTT: the handler of %s for %s failed", command.VERB, command.station_id
                )
