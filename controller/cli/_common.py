"""Helpers shared by the command modules: output, errors, input files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from kernels.errors import InvalidInputError

Handler: TypeAlias = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def fail(message: str, *, code: int) -> int:
    """Print ``gymctl: error: MESSAGE`` on stderr and return ``code``."""
    print(f"gymctl: error: {message}", file=sys.stderr)
    return code


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain aligned text table: numbers right-aligned, the rest left-aligned."""
    cells = [[str(h) for h in headers], *[[_fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            cell.rjust(width) if is_num else cell.ljust(width)
            for cell, width, is_num in zip(row, widths, numeric, strict=True)
        )
        print(line.rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if value is None:
        return "-"
    return str(value)


def read_text_file(path: Path) -> str:
    """Read a user's input file, turning OS errors into one clear message."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError("no such file", where=str(path)) from None
    except IsADirectoryError:
        raise InvalidInputError("is a directory, not a file", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or "cannot be read", where=str(path)) from None


def write_text_file(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write a file the user asked for with ``mode`` (an existing file gets it too: it may
    hold a secret), turning OS errors into one clear message naming the file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(path, mode)
    except OSError as exc:
        raise InvalidInputError(exc.strerror or "cannot be written", where=str(path)) from None
