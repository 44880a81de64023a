"""The ``gymctl`` command line.

Each command group lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``handler`` (a function of the parsed arguments returning the exit
code). Errors are reported here, once: ``InvalidInputError`` exits 2 with its message,
other ``GymctlError`` exits 1; neither prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from controller import __version__
from controller.cli._common import Handler, fail
from kernels.errors import GymctlError, InvalidInputError

#: The command modules, in the order their commands appear in ``gymctl --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "controller.cli.demo",
    "controller.cli.run",
    "controller.cli.analyze",
    "controller.cli.sim",
    "controller.cli.bench",
    "controller.cli.decode",
    "controller.cli.adapter",
    "controller.cli.plan",
    "controller.cli.athlete",
    "controller.cli.user",
    "controller.cli.chain",
    "controller.cli.hq",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gymctl",
        description="Controller for sensorized gyms: stations, velocity-based training, "
        "readiness-driven workouts, equipment over Modbus and BLE.",
    )
    parser.add_argument("--version", action="version", version=f"gymctl {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except InvalidInputError as exc:
        return fail(str(exc), code=2)
    except GymctlError as exc:
        return fail(str(exc), code=1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
