"""Applying messages in worker processes: each holds one Intake (its engine, the schedule).

Why processes and not threads: applying an SIU is CPU in Python (the ORM's per-statement work,
~15 ms), so threads of one process take turns on one core whatever their number. Each process
applies one message at a time on its own database connection; the listener's event loop only
moves bytes and hands blocks over. A process commits before it returns the reply, so the ACK
still follows the commit; a process (or the listener) killed mid-message leaves that message
unanswered and the sender resends it (the MSH-10 key turns the resend into the same answer).

Processes start with `spawn`: nothing of the listener's engine, threads or sockets is inherited.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, wait

from engage.hl7.intake import Intake, Reply
from engage.logs import configure_logging
from engage.schedule.models import Schedule
from engage.settings import Settings
from engage.store.db import make_engine

_intake: Intake | None = None  # this worker process's, built once by `_start`


def _start(settings: Settings, schedule: Schedule) -> None:
    global _intake
    configure_logging(settings.log_level, json=settings.log_json)
    # One message at a time per process: one connection, and one spare for a reconnect.
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=1)
    _intake = Intake(engine, schedule)


def handle(raw: bytes) -> Reply:
    """Intake.handle in this worker process (the function the listener submits)."""
    if _intake is None:
        raise RuntimeError("hl7 worker process not started")
    return _intake.handle(raw)


def pid() -> int:
    return os.getpid()


def start_pool(settings: Settings, schedule: Schedule, workers: int) -> ProcessPoolExecutor:
    """`workers` started processes (each has run its start-up before the first message)."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(settings, schedule),
    )
    # Submitted together, none can reuse an idle process: each starts one now, not later
    # during the first burst of messages.
    wait([pool.submit(pid) for _ in range(workers)])
    return pool
