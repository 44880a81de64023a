"""Numeric columns from a user's CSV file, with errors that name the file, line and column."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from controller.cli._common import read_text_file
from kernels.errors import InvalidInputError

#: Cells read as a missing value (NaN) in the columns that allow it.
MISSING = frozenset({"", "nan", "NaN", "NAN", "NA", "null"})


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns asked for, as float arrays, and the file line of each row."""

    path: Path
    values: dict[str, npt.NDArray[np.float64]]
    text: dict[str, list[str]]  #: columns asked for as text (e.g. dates)
    lines: list[int]

    def __len__(self) -> int:
        return len(self.lines)

    def where(self, row: int, column: str | None = None) -> str:
        place = f"{self.path}, line {self.lines[row]}"
        return f"{place}, column {column!r}" if column else place


def read_columns(
    path: Path,
    *,
    numbers: Sequence[str],
    may_be_missing: Sequence[str] = (),
    optional_text: Sequence[str] = (),
) -> Columns:
    """Read ``numbers`` (and ``optional_text`` when present) from a CSV with a header row.

    Other columns are ignored. Cells of ``may_be_missing`` columns may be empty or ``nan``
    (a dropout); every other number must be finite.
    """
    rows = list(csv.reader(read_text_file(path).splitlines()))
    header_at = next((i for i, row in enumerate(rows) if any(cell.strip() for cell in row)), None)
    if header_at is None:
        raise InvalidInputError("the file is empty (a header row is needed)", where=str(path))
    header = [cell.strip() for cell in rows[header_at]]
    missing = [name for name in numbers if name not in header]
    if missing:
        found = ", ".join(repr(h) for h in header if h) or "none"
        raise InvalidInputError(
            f"missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (found: {found})",
            where=f"{path}, line {header_at + 1}",
        )
    index = {name: header.index(name) for name in numbers}
    text_index = {name: header.index(name) for name in optional_text if name in header}
    values: dict[str, list[float]] = {name: [] for name in numbers}
    text: dict[str, list[str]] = {name: [] for name in text_index}
    lines: list[int] = []
    for number, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        for name, col in index.items():
            cell = row[col].strip() if col < len(row) else ""
            values[name].append(
                _number(cell, name in may_be_missing, f"{path}, line {number}", name)
            )
        for name, col in text_index.items():
            text[name].append(row[col].strip() if col < len(row) else "")
        lines.append(number)
    return Columns(
        path,
        {name: np.array(column, dtype=np.float64) for name, column in values.items()},
        text,
        lines,
    )


def _number(cell: str, may_be_missing: bool, where: str, column: str) -> float:
    if cell in MISSING:
        if may_be_missing:
            return math.nan
        raise InvalidInputError(f"column {column!r} is empty", where=where)
    try:
        value = float(cell)
    except ValueError:
        raise InvalidInputError(
            f"{cell!r} in column {column!r} is not a number", where=where
        ) from None
    if not math.isfinite(value) and not (may_be_missing and math.isnan(value)):
        raise InvalidInputError(
            f"{cell!r} in column {column!r} is not a finite number", where=where
        )
    return value
