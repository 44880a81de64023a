"""The load generator of the panel load benchmark: live viewers and JSON API clients.

It runs in its own process (``python -m benchmarks.panel_load_client``), so that its work
never shares the controller's event loop. It reads its settings as one JSON object on
stdin (the credentials stay off the command line), then:

1. signs in once over ``/api/v1/auth/login`` for the viewers that use a web session,
   learns the athletes' ids for the API mix, and requests each endpoint once (FastAPI
   builds a router's route table on its first request: a one-off, not load);
2. opens ``viewers`` server-sent-event streams on ``/api/v1/feed``: half on the floor feed,
   half on a station's feed (``?station=``), alternately with the API token (Bearer) and
   the session cookie; a stream that ends (a station feed ends with its session) is opened
   again at once;
3. prints ``ready`` on a line of its own once every viewer's stream is open, then for
   ``seconds`` counts each viewer's frames (events with data; keep-alives are not frames)
   and runs ``clients`` API clients that send GET requests at ``rate`` requests a second
   in all (each client keeps its own schedule; a client that falls behind sends at once,
   never in a burst to catch up);
4. prints its figures as one JSON object on a line and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

#: GET endpoints of the JSON API, in the order the clients cycle through them
ENDPOINTS = (
    "/api/v1/stations",
    "/api/v1/stations/{station}",
    "/api/v1/athletes",
    "/api/v1/athletes/{athlete}",
    "/api/v1/athletes/{athlete}/sessions",
    "/api/v1/athletes/{athlete}/readiness",
    "/api/v1/plans",
    "/api/v1/me",
    "/healthz",
)
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    url: str
    token: str
    username: str
    password: str
    stations: tuple[str, ...]
    viewers: int
    clients: int
    rate: float
    seconds: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        return cls(
            url=str(data["url"]),
            token=str(data["token"]),
            username=str(data["username"]),
            password=str(data["password"]),
            stations=tuple(str(s) for s in data["stations"]),
            viewers=int(data["viewers"]),
            clients=int(data["clients"]),
            rate=float(data["rate"]),
            seconds=float(data["seconds"]),
        )


@dataclass(slots=True)
class Viewer:
    index: int
    path: str
    auth: str  #: "token" or "session"
    counting: bool = False
    frames: int = 0
    connects: int = 0
    first: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class ApiTally:
    counting: bool = False
    latencies_s: list[float] = field(default_factory=list)
    status: Counter[str] = field(default_factory=Counter)
    late: int = 0  #: requests sent after their slot (the client was behind)
    by_endpoint: dict[str, list[float]] = field(default_factory=dict)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 3)


def _frames(viewer: Viewer, buffer: bytearray) -> None:
    """Count the complete events in ``buffer`` (each ends with a blank line) and drop them."""
    while (end := buffer.find(b"\n\n")) >= 0:
        block = bytes(buffer[:end])
        del buffer[: end + 2]
        viewer.first.set()  # the stream is open (its first event is ``retry``)
        if viewer.counting and (block.startswith(b"data:") or b"\ndata:" in block):
            viewer.frames += 1


async def _watch(viewer: Viewer, url: str, headers: dict[str, str], stop: asyncio.Event) -> None:
    """One viewer's stream, read over a bare socket: httpx's line iterator cost the load
    generator a third of a core for 50 viewers, CPU this 2-core machine's controller
    under test then waited for."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {viewer.path} HTTP/1.1", f"Host: {host}:{port}", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    while not stop.is_set():
        viewer.connects += 1
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            status = (await reader.readline()).split()
            if len(status) < 2 or status[1] != b"200":
                raise RuntimeError(f"viewer {viewer.index}: {viewer.path} {status!r}")
            chunked = False
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.partition(b":")
                if name.strip().lower() == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
            buffer = bytearray()
            while not stop.is_set():
                if chunked:
                    size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        break  # the stream ended (a station's feed ends with its session)
                    buffer += (await reader.readexactly(size + 2))[:-2]
                else:
                    data = await reader.read(65536)
                    if not data:
                        break
                    buffer += data
                _frames(viewer, buffer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _KeepAlive:
    """One API client's HTTP/1.1 connection, kept open between requests, over a bare
    socket: httpx cost the load generator more CPU than the requests it sent, CPU the
    controller under test shares on this machine."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        """GET ``path``; its status once the whole body is read."""
        reused = self._writer is not None
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}\r\n".encode()
        )
        status = (await reader.readline()).split()
        if len(status) < 2:
            await self.aclose()
            if reused:  # the server closes a connection idle past its keep-alive: reconnect
                return await self.get(path)
            raise RuntimeError(f"{path}: the server closed the connection")
        length, chunked, close = 0, False, False
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
                await reader.readexactly(size + 2)
            await reader.readline()  # the empty line after the last chunk
        elif length:
            await reader.readexactly(length)
        if close:
            await self.aclose()
        return int(status[1])

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _api_client(
    k: int,
    settings: Settings,
    client: _KeepAlive,
    paths: list[tuple[str, str]],
    tally: ApiTally,
    until: float,
) -> None:
    interval = settings.clients / settings.rate
    slot = time.monotonic() + interval * k / settings.clients
    i = k
    while True:
        now = time.monotonic()
        if now >= until:
            return
        if slot > now:
            await asyncio.sleep(slot - now)
        elif now - slot > interval:
            tally.late += 1
            slot = now  # behind: no burst to catch up
        endpoint, path = paths[i % len(paths)]
        i += settings.clients
        start = time.perf_counter()
        status = await client.get(path)
        took = time.perf_counter() - start
        if tally.counting:
            tally.latencies_s.append(took)
            tally.by_endpoint.setdefault(endpoint, []).append(took)
            tally.status[str(status)] += 1
        slot += interval


async def run(settings: Settings, out: Any = sys.stdout) -> dict[str, Any]:
    bearer = {"Authorization": f"Bearer {settings.token}"}
    timeout = httpx.Timeout(30.0, read=None)
    async with httpx.AsyncClient(base_url=settings.url, timeout=timeout) as login:
        signed_in = await login.post(
            "/api/v1/auth/login",
            json={"username": settings.username, "password": settings.password},
        )
        signed_in.raise_for_status()
        cookies = dict(login.cookies)
        listed = await login.get("/api/v1/athletes", headers=bearer)
        listed.raise_for_status()
        body = listed.json()
        rows = body.get("athletes", body) if isinstance(body, dict) else body
        athletes = [str(a["id"]) for a in rows][:50] or ["none"]
        for endpoint in ENDPOINTS:  # the server's first request of a route is no steady state
            path = endpoint.format(station=settings.stations[0], athlete=athletes[0])
            (await login.get(path, headers=bearer)).raise_for_status()
    viewers: list[Viewer] = []
    for i in range(settings.viewers):
        station = settings.stations[(i // 2) % len(settings.stations)]
        path = "/api/v1/feed" if i % 2 == 0 else f"/api/v1/feed?station={station}"
        viewers.append(Viewer(i, path, "token" if (i // 2) % 2 == 0 else "session"))
    paths = [
        (
            p,
            p.format(
                station=settings.stations[j % len(settings.stations)],
                athlete=athletes[j % len(athletes)],
            ),
        )
        for j, p in enumerate(ENDPOINTS * max(1, len(athletes)))
    ]
    stop = asyncio.Event()
    tally = ApiTally()
    session_cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    api_clients = [_KeepAlive(settings.url, bearer) for _ in range(settings.clients)]
    try:
        async with asyncio.TaskGroup() as group:
            watchers = [
                group.create_task(
                    _watch(v, settings.url, bearer if v.auth == "token" else session_cookie, stop),
                    name=f"viewer-{v.index}",
                )
                for v in viewers
            ]
            async with asyncio.timeout(READY_TIMEOUT_S):
                await asyncio.gather(*(v.first.wait() for v in viewers))
            out.write("ready\n")
            out.flush()
            started = time.monotonic()
            cpu = time.process_time()
            until = started + settings.seconds
            for v in viewers:
                v.counting = True
            tally.counting = True
            async with asyncio.TaskGroup() as api:
                for k, c in enumerate(api_clients):
                    api.create_task(
                        _api_client(k, settings, c, paths, tally, until), name=f"api-client-{k}"
                    )
            elapsed = time.monotonic() - started
            cpu = time.process_time() - cpu
            tally.counting = False
            for v in viewers:
                v.counting = False
            stop.set()
            for task in watchers:
                task.cancel()
    finally:
        for c in api_clients:
            await c.aclose()
    lat = tally.latencies_s
    rates = [v.frames / elapsed for v in viewers]
    ok = sum(n for s, n in tally.status.items() if s.startswith("2"))
    return {
        "seconds": round(elapsed, 3),
        "cpu_share": round(cpu / elapsed, 3),  #: this process's CPU over the window, cores
        "api": {
            "clients": settings.clients,
            "target_per_s": settings.rate,
            "requests": len(lat),
            "ok": ok,
            "status": dict(sorted(tally.status.items())),
            "late": tally.late,
            "requests_per_s": round(len(lat) / elapsed, 2),
            "p50_ms": _ms(_percentile(lat, 50)),
            "p99_ms": _ms(_percentile(lat, 99)),
            "max_ms": _ms(max(lat) if lat else None),
            "by_endpoint": {
                endpoint: {
                    "requests": len(times),
                    "p50_ms": _ms(_percentile(times, 50)),
                    "p99_ms": _ms(_percentile(times, 99)),
                }
                for endpoint, times in sorted(tally.by_endpoint.items())
            },
        },
        "viewers": {
            "count": len(viewers),
            "floor": sum(1 for v in viewers if "station=" not in v.path),
            "station": sum(1 for v in viewers if "station=" in v.path),
            "token": sum(1 for v in viewers if v.auth == "token"),
            "session": sum(1 for v in viewers if v.auth == "session"),
            "frames": sum(v.frames for v in viewers),
            "frames_per_s_mean": round(sum(rates) / len(rates), 3) if rates else None,
            "frames_per_s_min": round(min(rates), 3) if rates else None,
            "frames_per_s_max": round(max(rates), 3) if rates else None,
            "reconnects": sum(max(0, v.connects - 1) for v in viewers),
        },
    }


def main() -> int:
    settings = Settings.from_json(json.loads(sys.stdin.readline()))
    # the browsers and API clients of a real site run on other machines; here they share
    # the controller's cores, so they yield them to it (CFS weight 15 against 1024)
    os.nice(19)
    result = asyncio.run(run(settings))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
