"""``gymctl athlete import FILE [--athlete ID --db PATH]``: a wearable export into readiness.

The file is CSV or JSON of sleep, resting HR and HRV per day (docs/athlete-import.md).
Without ``--athlete`` the file is checked and printed, nothing is stored; with it, its
days become the athlete's readiness inputs in the site's store (re-importing a file
replaces what it gave before) and the import is recorded in the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from pathlib import Path

from controller.cli._common import Subparsers, print_json, print_table, read_text_file
from controller.cli._store import add_store_options, existing_store
from controller.cli.athlete_export import actor
from controller.errors import NotFoundError
from controller.store import Store
from controller.store.people import audit, import_readiness_inputs
from kernels.errors import InvalidInputError
from plans.athlete_import import WearableRecord, read_wearable_export


def store_records(
    db_path: Path, athlete_id: str, records: tuple[WearableRecord, ...], source: str
) -> int:
    """Write the records through the store's writer; the number of values written."""
    rows = [r.to_row() for r in records]

    async def write() -> int:
        async with Store(db_path, retention=False) as store:
            try:
                written = await store.writer.call(
                    partial(
                        import_readiness_inputs, athlete_id=athlete_id, rows=rows, source=source
                    )
                )
            except NotFoundError as exc:
                raise InvalidInputError(str(exc), where="--athlete") from None
            await store.writer.call(
                partial(
                    audit,
                    actor=actor(),
                    action="athlete.import",
                    target_type="athlete",
                    target_id=athlete_id,
                    athlete_id=athlete_id,
                    detail={"file": source, "days": len(rows), "values": written},
                )
            )
            return written

    return asyncio.run(write())


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    if args.athlete is None and (args.db is not None or args.config is not None):
        raise InvalidInputError("say whose data this is with --athlete ID", where="--athlete")
    db_path = (
        existing_store(args, command="gymctl athlete import") if args.athlete is not None else None
    )
    records = read_wearable_export(read_text_file(path), source=str(path))
    stored = None
    if db_path is not None and records:
        stored = store_records(db_path, args.athlete, records, f"import:{path.name}")
    if args.json:
        print_json(
            {
                "file": str(path),
                "n_records": len(records),
                "first_day": records[0].day.isoformat() if records else None,
                "last_day": records[-1].day.isoformat() if records else None,
                "athlete": args.athlete,
                "stored_values": stored or 0,
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
    if db_path is None:
        where = "nothing stored (give --athlete ID and --db PATH to store them)"
    else:
        where = f"{stored or 0} value(s) stored for {args.athlete} in {db_path}"
    print(f"{len(records)} day(s){span} read from {path}; {where}")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="check, and with --athlete store, a CSV or JSON export of sleep, resting HR and HRV",
        description="Validate a wearable export (CSV with a header, or JSON; format in "
        "docs/athlete-import.md) and print the days it holds; with --athlete and the store, "
        "store them as the athlete's readiness inputs. Errors name the line or record and "
        "the field; nothing is stored from a file with an error.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument(
        "--athlete", metavar="ID", help="the athlete (a-...) whose readiness inputs these are"
    )
    add_store_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)
