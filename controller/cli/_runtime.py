"""What ``gymctl run`` and ``gymctl demo`` share: logging set-up and stopping on signals."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from kernels.errors import InvalidInputError


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if verbose < 2:  # the libraries' chatter (reconnect attempts, broker sessions)
        for name in ("amqtt", "transitions", "bumble", "pymodbus", "uvicorn"):
            logging.getLogger(name).setLevel(max(level, logging.WARNING))


def stop_on_signals(stop: Callable[[], None]) -> Callable[[], None]:
    """SIGINT and SIGTERM call ``stop`` (a clean shutdown); returns the undo."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals
            pass

    def undo() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return undo


def port(value: str) -> int:
    """argparse type of a TCP port (1-65535)."""
    try:
        number = int(value)
    except ValueError:
        raise InvalidInputError(f"not a port number: {value!r}") from None
    if not 1 <= number <= 65535:
        raise InvalidInputError(f"a port is 1..65535, not {number}")
    return number
