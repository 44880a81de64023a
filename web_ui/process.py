"""``python -m web_ui.process``: the panel in a process of its own (``panel.own_process``).

Started by the controller (``controller.panel_process``) with two inherited sockets: the
link to the controller and the panel's listening socket, which the controller bound. It
reads what it needs from the link's first frame, opens the store on the same file, serves
the same app as the panel inside the controller, and leaves when the link ends (the
controller stopped or died) or on SIGTERM. It is not meant to be started by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import sys

from controller.panel_link import (
    MAX_UPDATE_BYTES,
    PanelLinkError,
    PanelStart,
    json_frame,
    read_body,
)
from controller.store import Store
from web_ui.app import create_app
from web_ui.remote import RemoteGym
from web_ui.server import PanelServer

log = logging.getLogger("web_ui.process")


async def serve(link: socket.socket, listen: socket.socket) -> int:
    reader, writer = await asyncio.open_connection(sock=link)
    body = await read_body(reader, limit=MAX_UPDATE_BYTES)
    if body is None:
        return 0  # the controller went before it said anything
    message = pickle.loads(body)
    if not (isinstance(message, tuple) and message[:1] == ("start",)):
        raise PanelLinkError("the controller's first frame is not the start")
    start: PanelStart = message[1]
    logging.getLogger().setLevel(start.log_level)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with (
        RemoteGym(start, reader, writer) as gym,
        Store(start.db_path, settings=start.store, retention=False) as store,
        PanelServer(create_app(gym, store, start.settings), sock=listen) as server,
    ):
        writer.write(json_frame({"ready": server.url}))
        await writer.drain()
        async with asyncio.TaskGroup() as group:
            waits = [
                group.create_task(gym.gone(), name="panel-controller-wait"),
                group.create_task(stop.wait(), name="panel-signal-wait"),
            ]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()
    return 0


def lower_priority(*, idle: bool, nice: int) -> None:
    """Below the stations: ``SCHED_IDLE`` (the process runs only on a core no normal thread
    wants, and a waking station loop preempts it at once), else a higher nice value. Done
    before any thread starts, so every thread of the panel inherits it."""
    if idle and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError as exc:
            log.warning("the panel cannot run under SCHED_IDLE (%s): nice %d instead", exc, nice)
        else:
            return
    if nice > 0:
        with contextlib.suppress(OSError):
            os.nice(nice)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web_ui.process", description=__doc__)
    parser.add_argument("--link-fd", type=int, required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--idle", action="store_true", help="run under SCHED_IDLE (Linux)")
    parser.add_argument("--nice", type=int, default=0, help="else at this nice value")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s panel[{os.getpid()}] %(name)s: %(message)s",
    )
    for name in ("uvicorn",):
        logging.getLogger(name).setLevel(logging.WARNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the controller decides when the panel stops
    lower_priority(idle=args.idle, nice=args.nice)
    link = socket.socket(fileno=args.link_fd)
    listen = socket.socket(fileno=args.listen_fd)
    try:
        return asyncio.run(serve(link, listen))
    except PanelLinkError as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
