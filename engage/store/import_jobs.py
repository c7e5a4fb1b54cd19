"""A patients import running in the background: its progress and, once done, its summary.

The console starts the import and answers at once; the status page reads this row (from any
server process) until the job is done. The file itself never enters the database.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engage.store.base import Base, UTCDateTime, utcnow


class ImportState(StrEnum):
    CHECKING = "checking"  # every row being validated; nothing stored yet
    CHECKED = "checked"  # the check page is ready; staff confirm (or upload again)
    IMPORTING = "importing"  # rows being written in batches; rows_done counts them
    DONE = "done"
    FAILED = "failed"  # the file could not be read (bad header), or the job stopped

    @property
    def running(self) -> bool:
        return self in (ImportState.CHECKING, ImportState.IMPORTING)


class ImportJob(Base):
    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=ImportState.CHECKING.value)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    # The check's counts and first problems, then the import's (`FILE.csv:LINE: field: problem`).
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
