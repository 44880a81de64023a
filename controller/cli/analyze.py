"""``gymctl analyze``: offline analysis of recorded files."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.analyze_lift",
    "controller.cli.analyze_lvp",
    "controller.cli.analyze_hrv",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "analyze",
        help="offline analysis of a lift trace, an RR file or a load-velocity table",
        modules=SUBCOMMANDS,
    )
