"""The layout the design fixes, and the direction of imports between the packages."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "equipment_adapters", "kernels", "plans", "web_ui")

#: What each package may import of the others (the design's dependency arrows).
ALLOWED: dict[str, set[str]] = {
    "kernels": set(),
    "plans": {"kernels"},
    "equipment_adapters": {"kernels"},
    "controller": {"kernels", "plans", "equipment_adapters", "web_ui", "benchmarks"},
    "web_ui": {"kernels", "plans", "controller", "equipment_adapters"},
}


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports(package: str) -> None:
    importlib.import_module(package)


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_follow_the_design(package: str) -> None:
    others = {*PACKAGES, "tests", "benchmarks"} - {package}
    forbidden = others - ALLOWED[package]
    offences = [
        f"{source.relative_to(ROOT)} imports {name}"
        for source in sorted((ROOT / package).rglob("*.py"))
        for name in sorted(_imported_top_levels(source) & forbidden)
    ]
    assert not offences, "\n".join(offences)


def test_top_level_files_exist() -> None:
    for name in ("setup.py", "pyproject.toml", "Makefile", "README.md", ".ci/run"):
        assert (ROOT / name).is_file(), name
