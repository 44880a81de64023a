"""``gymctl athlete import FILE``: check a wearable export and show what it holds.

The file is CSV or JSON of sleep, resting HR and HRV per day (docs/athlete-import.md).
This command validates and prints; storing the records is the store's job
(``plans.athlete_import.read_wearable_export`` gives the typed records it stores).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.cli._common import Subparsers, print_json, print_table, read_text_file
from plans.athlete_import import read_wearable_export


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    records = read_wearable_export(read_text_file(path), source=str(path))
    if args.json:
        print_json(
            {
                "file": str(path),
                "n_records": len(records),
                "first_day": records[0].day.isoformat() if records else None,
                "last_day": records[-1].day.isoformat() if records else None,
                "records": [r.to_row() for r in records],
            }
        )
        return 0
    print_table(
        ["date", "sleep h", "quality", "rest HR", "RMSSD ms", "lnRMSSD", "source"],
        [
            [
                r.day.isoformat(),
                r.sleep_h,
                r.sleep_quality,
                r.resting_hr_bpm,
                r.rmssd_ms,
                r.ln_rmssd,
                r.source,
            ]
            for r in records
        ],
    )
    span = f" from {records[0].day} to {records[-1].day}" if records else ""
    print(f"{len(records)} day(s){span} read from {path}; nothing stored yet")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="check a CSV or JSON export of sleep, resting HR and HRV",
        description="Validate a wearable export (CSV with a header, or JSON; format in "
        "docs/athlete-import.md) and print the days it holds. Errors name the line or "
        "record and the field.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)
