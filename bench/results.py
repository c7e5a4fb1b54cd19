"""Everything one `make bench` run measured, with the load each phase ran under."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.bulk_enroll import BulkResult
from bench.cli_start import StartResult
from bench.console_pages import ConsoleResult
from bench.delivery import DeliveryResult
from bench.hl7 import Hl7Result
from bench.importing import ImportResult
from bench.machine import Load, Machine
from bench.memory import MemoryResult
from bench.reads import ReadResult
from bench.redelivery import RedeliveryResult
from bench.reschedule import RescheduleResult
from bench.sendpath import SendPathResult


@dataclass
class Results:
    machine: Machine
    started: str  # ISO time, UTC
    commit: str  # HEAD when the run started
    uncommitted: list[str]  # `git status --porcelain` lines for engage/ and workers/ at start
    commit_at_end: str = ""  # HEAD when the run ended: processes start from the tree as it is
    seconds: float = 0.0
    send_path: SendPathResult | None = None
    pool_trials: list[DeliveryResult] = field(default_factory=list)
    pool_failures: list[str] = field(default_factory=list)
    bursts: list[DeliveryResult] = field(default_factory=list)
    email_bursts: list[DeliveryResult] = field(default_factory=list)  # email, SMS + email
    peer: list[DeliveryResult] = field(default_factory=list)  # the same spec first, then trials
    steady: DeliveryResult | None = None
    outbox_memory: list[MemoryResult] = field(default_factory=list)
    naive_memory: list[MemoryResult] = field(default_factory=list)
    redelivery: RedeliveryResult | None = None
    reschedule: RescheduleResult | None = None
    imports: list[ImportResult] = field(default_factory=list)  # one per size, smallest first
    hl7: Hl7Result | None = None
    cli_start: list[StartResult] = field(default_factory=list)
    bulk_enroll: BulkResult | None = None
    reads: ReadResult | None = None
    console: ConsoleResult | None = None
    loads: dict[str, Load] = field(default_factory=dict)  # phase name -> load during it
