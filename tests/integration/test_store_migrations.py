"""The migrations build exactly the schema the models describe, from any working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engage.store import Base, make_engine
from engage.store.migrate import current, head, is_current, upgrade


def test_migrated_schema_matches_the_models(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_state_columns_are_checked_by_the_database(engine: sa.Engine) -> None:
    checks = {
        table: {c["name"] for c in sa.inspect(engine).get_check_constraints(table)}
        for table in ("message", "enrollment", "appointment")
    }
    assert checks == {
        "message": {"ck_message_state"},
        "enrollment": {"ck_enrollment_state"},
        "appointment": {"ck_appointment_state"},
    }


def test_a_migrated_database_is_current(db_url: str) -> None:
    assert is_current(db_url)
    assert current(db_url) == head()


def test_a_new_database_is_not_current_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current(url) is None
    assert not is_current(url)
    assert upgrade(url) == head()
    assert is_current(url)


def test_upgrade_works_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert not (Path(os.getcwd()) / "alembic.ini").exists()
    assert upgrade(f"sqlite:///{tmp_path / 'elsewhere.db'}") == head()


def test_upgrading_twice_changes_nothing(db_url: str) -> None:
    assert upgrade(db_url) == head()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_a_fresh_upgrade_warns_about_nothing(tmp_path: Path) -> None:
    """`make run` starts with a migration: its first lines must not be SQLAlchemy warnings."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_the_folded_name_indexes_survive_every_migration(engine: sa.Engine) -> None:
    """Batch mode on SQLite copies tables and cannot reflect expression indexes: a later batch
    of `patient` would drop them without a word, and name search would scan the table."""
    if engine.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patient'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = 'patient'"
    with engine.connect() as connection:
        names = set(connection.execute(sa.text(query)).scalars())
    assert {"ix_patient_first_name_folded", "ix_patient_last_name_folded"} <= names
