"""What the CLI acceptance tests share: the environment of an `engage` run on a fresh SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """ENGAGE_* variables for one test: its own database, the repository's schedule, plain logs."""
    return {
        "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_LOG_JSON": "false",
    }
