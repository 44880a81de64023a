"""``gymctl bench hrv``: HRV kernels against hrv-analysis, systole and NeuroKit2."""

from __future__ import annotations

import argparse

from controller.cli._common import Subparsers, print_json, print_table
from kernels.errors import GymctlError


def run(args: argparse.Namespace) -> int:
    from benchmarks import hrv as bench
    from benchmarks import peers

    try:
        result = bench.run(repeat=args.repeat)
    except peers.PeersUnavailableError as exc:
        raise GymctlError(str(exc)) from None
    if args.json:
        print_json(result)
        return 0
    rows = []
    for label in result["sizes"]:
        ours = result["gymctl"][label]
        rows.append(["gymctl", label, ours["time_domain_s"] * 1e3, ours["correction_s"] * 1e3])
        for library, sizes in result["peers"].items():
            peer = sizes[label]
            rows.append([library, label, peer["time_domain_s"] * 1e3, peer["correction_s"] * 1e3])
    print_table(["library", "beats", "time domain (ms)", "correction (ms)"], rows)
    print()
    for key in sorted(k for k in result if k.startswith("speedup_")):
        peer = result[key.replace("speedup_", "fastest_peer_")]
        print(f"{key}: {result[key]:.1f}x (fastest peer: {peer})")
    agreement = ", ".join(f"{k} {v:.1e}" for k, v in result["agreement_max_rel_diff"].items())
    print(f"largest relative difference of values: {agreement}")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "hrv",
        help="HRV time domain and artefact correction against peer libraries",
        description="Times gymctl's HRV time-domain metrics and artefact correction on 300 "
        "and 100,000 beats against hrv-analysis, systole and NeuroKit2, each in its own "
        "environment under .bench-envs/ (built on first use from the package index).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds (best is kept)")
    parser.set_defaults(handler=run)
