"""``gymctl sim``: run one emulated device on its own, for equipment makers and tests."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.sim_rack",
    "controller.cli.sim_ble",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "sim",
        help="run one emulated device (a rack over Modbus TCP, a BLE bike, strap or band)",
        modules=SUBCOMMANDS,
    )
