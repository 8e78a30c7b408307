"""No module reaches into another package's private modules (``pkg._impl``).

Packages export what others may use from their ``__init__``; what starts with an
underscore may change without notice. The layering itself is checked by ``lint-imports``
(pyproject.toml); this test covers the rule import-linter cannot express.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Source folders and the package each is installed as.
SOURCES = {"heroes_core": "heroes_core", "blocks": "heroes.blocks", "tasks": "heroes.tasks",
           "flows": "heroes.flows", "deployments": "heroes.deployments", "cli": "heroes.cli"}


def _module_name(root: Path, path: Path) -> str:
    folder, *rest = path.relative_to(root).with_suffix("").parts
    parts = [SOURCES[folder], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _private_owner(name: str) -> str | None:
    """The package a name is private to, if any part of it is ``_private``."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if index and part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def private_imports(root: Path, folders: Iterable[str] = SOURCES) -> list[str]:
    """Each ``importer -> imported`` that reaches a private name of a package it is outside of."""
    found = set()
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            importer = _module_name(root, path)
            for name in _imported(path):
                owner = _private_owner(name)
                if (name.startswith("heroes") and owner is not None
                        and importer != owner and not importer.startswith(owner + ".")):
                    found.add(f"{importer} -> {name}")
    return sorted(found)


def test_no_module_imports_another_packages_private_names() -> None:
    assert private_imports(ROOT) == []


def test_a_private_import_from_outside_its_package_is_found(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "probe.py").write_text(
        "from heroes_core.schedulers._slurm import SlurmScheduler\n"
        "from heroes_core.schedulers import SlurmScheduler as Public\n")
    (tmp_path / "heroes_core" / "schedulers").mkdir(parents=True)
    (tmp_path / "heroes_core" / "schedulers" / "__init__.py").write_text(
        "from heroes_core.schedulers._slurm import SlurmScheduler\n")
    assert private_imports(tmp_path, ["tasks", "heroes_core"]) == [
        "heroes.tasks.probe -> heroes_core.schedulers._slurm.SlurmScheduler"]
