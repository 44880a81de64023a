"""``gymctl bench``: the benchmarks of ``benchmarks/``."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.bench_kernels",
    "controller.cli.bench_hrv",
    "controller.cli.bench_modbus",
    "controller.cli.bench_ble",
    "controller.cli.bench_panel_load",
    "controller.cli.bench_pipeline",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "bench",
        help="run a benchmark and print its figures (ratios against same-run baselines)",
        modules=SUBCOMMANDS,
    )
