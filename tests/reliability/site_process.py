"""The reliability rig's site in a process of its own, for faults that need one.

``python -m tests.reliability.site_process --db PATH`` runs ``rig.emulated_site`` (the
``Gym`` that ``gymctl run`` runs, racks as Modbus TCP emulators, emulated athletes
training) until SIGTERM or SIGINT, and writes one JSON line to stdout every
``--every`` seconds: the site's alarms and health, each station's state, each rack's
actual load, and what the bus carried since the previous line (alerts, reps, safe-state
decisions). A test reads the lines to see what the site does while it injects a fault the
test process must not share: SIGKILL, or a file system refusing writes (a shim loaded with
``LD_PRELOAD`` into this process only).

Without ``--mqtt-port`` the site uses its embedded broker; with it, a broker (Mosquitto)
on that port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.events import Alert, DecisionEvent, RepEvent

from .rig import EmulatedSite, emulated_site


def status(site: EmulatedSite, start: int) -> tuple[dict[str, Any], int]:
    """One status line: the state now and the bus events from ``start`` on."""
    seen = site.recorder.seen
    end = len(seen)
    alerts, reps, safe = [], [], 0
    for item in seen[start:end]:
        event = item.event
        if isinstance(event, Alert):
            alerts.append(
                {
                    "code": event.code,
                    "severity": event.severity.value,
                    "cleared": event.cleared,
                    "message": event.message,
                }
            )
        elif isinstance(event, RepEvent):
            reps.append([event.set_id, event.rep_index])
        elif isinstance(event, DecisionEvent) and event.decision.rule == "fault_safe_state":
            safe += 1
    gym = site.gym
    health = gym.health()
    line = {
        "t": time.time(),
        "alarms": sorted(gym.alarms),
        "store_writable": health.store_writable,
        "states": {sid: rt.state.value for sid, rt in gym.runtimes.items()},
        "loads": {sid: rack.state.actual_load_kg for sid, rack in site.world.racks.items()},
        "alerts": alerts,
        "reps": reps,
        "safe_decisions": safe,
    }
    return line, end


async def main(args: argparse.Namespace) -> None:
    db: Path = args.db.resolve()
    mqtt = None
    if args.mqtt_port is not None:
        mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {args.mqtt_port}\ntelemetry_hz = 2.0\n'
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with emulated_site(
        args.work.resolve(), kinds=("rack",) * args.stations, db_path=db, mqtt=mqtt
    ) as site:
        start = 0
        while not stop.is_set():
            line, start = status(site, start)
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
            try:
                async with asyncio.timeout(args.every):
                    await stop.wait()
            except TimeoutError:
                pass
        line, start = status(site, start)
        sys.stdout.write(json.dumps(line | {"stopping": True}) + "\n")
        sys.stdout.flush()


ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SiteProcess:
    """The test's side: the child process and what its status lines said so far."""

    child: asyncio.subprocess.Process
    last: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    reps: list[tuple[str, int]] = field(default_factory=list)
    safe_decisions: int = 0
    lines: int = 0

    def take(self, line: dict[str, Any]) -> None:
        self.last = line
        self.alerts += line["alerts"]
        self.reps += [(str(s), int(r)) for s, r in line["reps"]]
        self.safe_decisions += int(line["safe_decisions"])
        self.lines += 1

    async def read(self) -> None:
        assert self.child.stdout is not None
        async for raw in self.child.stdout:
            self.take(json.loads(raw))

    def alerted(self, code: str, *, cleared: bool = False) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["code"] == code and a["cleared"] is cleared]


@contextlib.asynccontextmanager
async def site_process(
    work: Path,
    db: Path,
    *,
    stations: int = 2,
    mqtt_port: int | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> AsyncIterator[SiteProcess]:
    """Start the site process and follow its status lines; SIGTERM it (or kill it after
    20 s) on the way out unless the test killed it."""
    argv = [sys.executable, "-m", "tests.reliability.site_process", "--db", str(db)]
    argv += ["--work", str(work), "--stations", str(stations)]
    if mqtt_port is not None:
        argv += ["--mqtt-port", str(mqtt_port)]
    err = (log or work / "site.log").open("wb")
    child = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=err,
        limit=1 << 24,
    )
    proc = SiteProcess(child)
    reader = asyncio.create_task(proc.read(), name="site-process-reader")
    try:
        yield proc
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 20)
            except TimeoutError:
                child.kill()
                await child.wait()
        try:
            await asyncio.wait_for(reader, 5)
        except TimeoutError:
            reader.cancel()
        err.close()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="site_process", description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="a directory for the rig")
    parser.add_argument("--stations", type=int, default=2)
    parser.add_argument("--mqtt-port", type=int, default=None)
    parser.add_argument("--every", type=float, default=0.05)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse(sys.argv[1:])))
