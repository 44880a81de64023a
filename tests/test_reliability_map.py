"""RELIABILITY.md names tests that exist: a renamed or removed test must change the map too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_map_names_exists() -> None:
    text = (ROOT / "RELIABILITY.md").read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    assert len(references) > 50
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.is_file() or name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"RELIABILITY.md names tests that do not exist: {missing}"


def test_the_map_is_linked_from_the_readme() -> None:
    assert "(RELIABILITY.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
