"""Console tests run on a migrated SQLite database (the pages' SQL is the API's, tested on both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console_kit import Console, build_console


@pytest.fixture
def console(tmp_path: Path) -> Console:
    return build_console(f"sqlite:///{tmp_path / 'engage.db'}", tmp_path)


@pytest.fixture
def staff(console: Console) -> Console:
    assert console.sign_in("staff").status_code == 303
    return console
