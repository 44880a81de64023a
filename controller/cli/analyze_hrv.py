"""``gymctl analyze hrv FILE``: time-domain HRV of an RR file, artefacts corrected first.

FILE holds RR intervals in milliseconds, one per line (blank lines and ``#`` comments are
skipped), or CSV with a header naming a column ``rr_ms``.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from controller.cli._common import Subparsers, print_json, print_table, read_text_file
from kernels import hrv
from kernels.errors import InvalidInputError


def parse_rr_text(text: str, *, source: str) -> npt.NDArray[np.float64]:
    """RR intervals (ms) from the text of a file; errors name the file and line."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    values: list[float] = []
    if "rr_ms" in first.replace(" ", "").lower().split(","):
        reader = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        for number, row in enumerate(reader, start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                column = header.index("rr_ms")
                continue
            if column >= len(row):
                raise InvalidInputError(
                    f"has {len(row)} fields, the rr_ms column is field {column + 1}",
                    where=f"{source}:{number}",
                )
            values.append(_number(row[column], f"{source}:{number}: column rr_ms"))
    else:
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            values.append(_number(stripped, f"{source}:{number}"))
    if len(values) < 2:
        raise InvalidInputError(
            f"holds {len(values)} RR interval(s); at least 2 are needed", where=source
        )
    return np.asarray(values, dtype=np.float64)


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InvalidInputError(f"{cell.strip()!r} is not a number", where=where) from None
    if not (math.isfinite(value) and hrv.MIN_PLAUSIBLE_RR_MS <= value <= hrv.MAX_PLAUSIBLE_RR_MS):
        raise InvalidInputError(
            f"{value:g} is not an RR interval in milliseconds (expected "
            f"{hrv.MIN_PLAUSIBLE_RR_MS:g} to {hrv.MAX_PLAUSIBLE_RR_MS:g})",
            where=where,
        )
    return value


def analyze(rr: npt.NDArray[np.float64], *, correct: bool) -> dict[str, float | int | None]:
    """The command's JSON object (``ln_rmssd`` is null for a perfectly flat series)."""
    n_corrected = 0
    analysed = rr
    if correct:
        correction = hrv.correct_artifacts(rr)
        analysed, n_corrected = correction.rr_ms, correction.n_corrected
    metrics = hrv.time_domain(analysed)
    return {
        "n_intervals": int(rr.size),
        "n_corrected": n_corrected,
        "mean_rr_ms": metrics.mean_rr_ms,
        "mean_hr_bpm": metrics.mean_hr_bpm,
        "sdnn_ms": metrics.sdnn_ms,
        "rmssd_ms": metrics.rmssd_ms,
        "ln_rmssd": metrics.ln_rmssd if math.isfinite(metrics.ln_rmssd) else None,
        "pnn50_pct": metrics.pnn50_pct,
    }


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    rr = parse_rr_text(read_text_file(path), source=str(path))
    result = analyze(rr, correct=not args.no_correct)
    if args.json:
        print_json(result)
        return 0
    labels = {
        "n_intervals": "intervals read",
        "n_corrected": "beats corrected",
        "mean_rr_ms": "mean RR (ms)",
        "mean_hr_bpm": "mean HR (bpm)",
        "sdnn_ms": "SDNN (ms)",
        "rmssd_ms": "RMSSD (ms)",
        "ln_rmssd": "lnRMSSD",
        "pnn50_pct": "pNN50 (%)",
    }
    print_table(["metric", "value"], [[labels[k], v] for k, v in result.items()])
    if args.no_correct:
        print("artefact correction off (--no-correct)")
    return 0


def register(subparsers: Subparsers) -> None:
    description = (
        "Time-domain HRV of an RR file (ms, one per line, or CSV with a column rr_ms). "
        "Artefacts (ectopic, missed, extra beats) are corrected first with the adaptive "
        "method of Lipponen & Tarvainen (2019). SDNN uses n - 1; RMSSD and pNN50 (> 50 ms) "
        "are over the n - 1 successive differences; mean HR is the mean of 60000 / RR."
    )
    parser = subparsers.add_parser(
        "hrv", help="time-domain HRV of an RR interval file", description=description
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="RR intervals in ms")
    parser.add_argument(
        "--no-correct", action="store_true", help="analyse the intervals as they are"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)
