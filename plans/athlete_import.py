"""Readiness inputs exported by other wearables: CSV or JSON in, typed records out.

The format is documented in ``docs/athlete-import.md``. Parsing is a pure function of the
file's text so that the command line, the panel's upload and the store share it; every
error names the line (CSV) or the record (JSON) and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kernels.errors import InvalidInputError
from plans.readiness import DailyInputs

#: Field name -> (lowest, highest, integer only). Dates are ISO 8601 (YYYY-MM-DD).
NUMERIC_FIELDS: dict[str, tuple[float, float, bool]] = {
    "sleep_h": (0.0, 24.0, False),
    "sleep_quality": (1, 5, True),
    "resting_hr_bpm": (25.0, 150.0, False),
    "rmssd_ms": (2.0, 600.0, False),
    "ln_rmssd": (0.5, 6.5, False),
}
FIELDS: tuple[str, ...] = ("date", *NUMERIC_FIELDS, "source")


@dataclass(frozen=True, slots=True)
class WearableRecord:
    """One day's readings from another wearable. ``ln_rmssd`` is filled from
    ``rmssd_ms`` when only that was given (ln of RMSSD in ms)."""

    day: date
    sleep_h: float | None = None
    sleep_quality: int | None = None
    resting_hr_bpm: float | None = None
    rmssd_ms: float | None = None
    ln_rmssd: float | None = None
    source: str = ""

    def to_daily_inputs(self) -> DailyInputs:
        return DailyInputs(
            day=self.day,
            ln_rmssd=self.ln_rmssd,
            resting_hr_bpm=self.resting_hr_bpm,
            sleep_h=self.sleep_h,
            sleep_quality=self.sleep_quality,
        )

    def to_row(self) -> dict[str, Any]:
        """A flat row for storage: JSON types, the day as an ISO string."""
        return {
            "day": self.day.isoformat(),
            "sleep_h": self.sleep_h,
            "sleep_quality": self.sleep_quality,
            "resting_hr_bpm": self.resting_hr_bpm,
            "rmssd_ms": self.rmssd_ms,
            "ln_rmssd": self.ln_rmssd,
            "source": self.source,
        }


def _record(values: Mapping[str, Any], where: str) -> WearableRecord:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise InvalidInputError(
            f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})", where=where
        )
    raw_day = values.get("date")
    if raw_day is None or str(raw_day).strip() == "":
        raise InvalidInputError("field 'date' is required", where=where)
    try:
        day = date.fromisoformat(str(raw_day).strip())
    except ValueError:
        raise InvalidInputError(
            f"field 'date': {raw_day!r} is not a date like 2026-03-01", where=where
        ) from None
    numbers: dict[str, float | int | None] = {}
    for name, (low, high, integer) in NUMERIC_FIELDS.items():
        raw = values.get(name)
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            numbers[name] = None
            continue
        if isinstance(raw, bool):
            raise InvalidInputError(f"field {name!r}: {raw!r} is not a number", where=where)
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"field {name!r}: {raw!r} is not a number", where=where
            ) from None
        if not math.isfinite(number) or not low <= number <= high:
            raise InvalidInputError(
                f"field {name!r}: {raw!r} is outside {low:g} to {high:g}", where=where
            )
        if integer and number != int(number):
            raise InvalidInputError(f"field {name!r}: {raw!r} must be a whole number", where=where)
        numbers[name] = int(number) if integer else number
    rmssd, ln = numbers["rmssd_ms"], numbers["ln_rmssd"]
    if rmssd is not None and ln is not None and abs(math.log(rmssd) - ln) > 0.01:
        raise InvalidInputError(
            f"fields 'rmssd_ms' ({rmssd:g}) and 'ln_rmssd' ({ln:g}) disagree: "
            f"ln({rmssd:g}) = {math.log(rmssd):.3f}",
            where=where,
        )
    if ln is None and rmssd is not None:
        ln = math.log(rmssd)
    if all(numbers[k] is None for k in NUMERIC_FIELDS):
        raise InvalidInputError("has a date but no reading", where=where)
    sleep_quality = numbers["sleep_quality"]
    return WearableRecord(
        day=day,
        sleep_h=numbers["sleep_h"],
        sleep_quality=None if sleep_quality is None else int(sleep_quality),
        resting_hr_bpm=numbers["resting_hr_bpm"],
        rmssd_ms=rmssd,
        ln_rmssd=ln,
        source=str(values.get("source") or "").strip(),
    )


def _no_duplicates(records: Iterable[tuple[WearableRecord, str]]) -> tuple[WearableRecord, ...]:
    seen: dict[date, str] = {}
    out: list[WearableRecord] = []
    for record, where in records:
        if record.day in seen:
            raise InvalidInputError(
                f"date {record.day} already given at {seen[record.day]}", where=where
            )
        seen[record.day] = where
        out.append(record)
    return tuple(sorted(out, key=lambda r: r.day))


def parse_csv(text: str, *, source: str) -> tuple[WearableRecord, ...]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    rows: list[tuple[WearableRecord, str]] = []
    for number, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            unknown = [h for h in header if h not in FIELDS]
            if unknown:
                raise InvalidInputError(
                    f"unknown column {unknown[0]!r} (known: {', '.join(FIELDS)})",
                    where=f"{source}:{number}",
                )
            if "date" not in header:
                raise InvalidInputError(
                    "the header needs a 'date' column", where=f"{source}:{number}"
                )
            continue
        where = f"{source}:{number}"
        if len(row) != len(header):
            raise InvalidInputError(
                f"has {len(row)} fields, the header has {len(header)}", where=where
            )
        rows.append((_record(dict(zip(header, row, strict=True)), where), where))
    if header is None:
        raise InvalidInputError(
            "is empty (expected a header line and one row per day)", where=source
        )
    return _no_duplicates(rows)


def parse_json(text: str, *, source: str) -> tuple[WearableRecord, ...]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", where=source
        ) from None
    except RecursionError:
        raise InvalidInputError("not valid JSON: nested too deeply", where=source) from None
    records = data.get("records") if isinstance(data, dict) else data
    if isinstance(data, dict) and set(data) - {"records"}:
        extra = sorted(set(data) - {"records"})[0]
        raise InvalidInputError(
            f"unknown top-level key {extra!r} (expected 'records')", where=source
        )
    if not isinstance(records, list):
        raise InvalidInputError(
            "expected a list of records, or an object with a 'records' list", where=source
        )
    out: list[tuple[WearableRecord, str]] = []
    for i, item in enumerate(records):
        where = f"{source}: records[{i}]"
        if not isinstance(item, dict):
            raise InvalidInputError(
                f"a record is an object, got {type(item).__name__}", where=where
            )
        out.append((_record(item, where), where))
    return _no_duplicates(out)


def read_wearable_export(text: str, *, source: str) -> tuple[WearableRecord, ...]:
    """Records of a CSV or JSON export (JSON when the text starts with ``{`` or ``[``)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return parse_json(text, source=source)
    return parse_csv(text, source=source)
