"""An installed engage can migrate: every migration file is shipped in the wheel."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "engage" / "store" / "migrations"


def shipped(path: Path, globs: list[str]) -> bool:
    relative = path.relative_to(ROOT / "engage").as_posix()
    in_package = path.suffix == ".py" and (path.parent / "__init__.py").exists()
    return in_package or any(fnmatch(relative, glob) for glob in globs)


def test_every_migration_file_is_package_data_or_a_package_module() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["engage"]
    files = [p for p in MIGRATIONS.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert {p.name for p in files} >= {"env.py", "script.py.mako", "0001_initial.py"}
    assert [p.name for p in files if not shipped(p, globs)] == []
