"""Console pages' server time on the reads phase's database: p50 and p99 of each page, against
the console issue's target (p99 <= 150 ms at a million patients).

`make bench` phase `console` (`BENCH_ONLY=reads,console` reuses the reads phase's database;
`BENCH_ONLY=console` builds it). The database is the reads phase's (`engage_reads`, built by
bench.reads._build: patients, enrollments, messages, their events), plus what the worklist pages
read: flagged messages, replies (half handled), consent ledgers, audit rows, HL7 dead letters.
It runs after the reads phase (its extra rows would change what the reads measure) and the run
drops the database at the end. Each page is requested through the ASGI app in this process
(TestClient: routing, the session check, the queries, Jinja), signed in as the role that uses it.
Every statement a page runs is timed; the slowest of its own (not the session check every page
shares) of the three slowest pages is EXPLAIN ANALYZEd with its parameters for the report.
"""

from __future__ import annotations

import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event

from bench import reads
from bench.procs import ROOT
from bench.services import database_url, drop_database, one_run_at_a_time, settle
from engage.accounts.users import create_user
from engage.asgi import create_web_app, freeze_startup_heap
from engage.runtime import Runtime
from engage.settings import Settings
from engage.store.tokens import Role

if TYPE_CHECKING:
    from bench.report import Row

TARGET_MS = 150.0
PASSWORD = "bench console password"
Progress = Callable[[int, int], None]


@dataclass
class ConsoleResult:
    patients: int
    messages: int
    build_seconds: float  # the extra rows (and the reads database when not reused)
    p50_ms: dict[str, float] = field(default_factory=dict)
    p99_ms: dict[str, float] = field(default_factory=dict)
    cpu_p50_ms: dict[str, float] = field(default_factory=dict)  # Python's, not PostgreSQL's
    statements: dict[str, int] = field(default_factory=dict)  # per call, on average
    plans: dict[str, str] = field(default_factory=dict)  # page: its slowest statement's plan


def _extras(url: str, patients: int) -> None:
    """What the worklist pages show, at a busy clinic's volume."""
    engine = sa.create_engine(url)
    statements = [
        # 300 safety messages flagged for staff to call.
        "UPDATE message SET state = 'flagged', critical = true, reason = 'staff must call: bench'"
        " WHERE id IN (SELECT id FROM message WHERE state = 'scheduled' ORDER BY id LIMIT 300)",
        # 20 replies per 1,000 patients, half of them handled.
        f"""INSERT INTO inbound_message (patient_id, provider_id, from_phone, from_hash, body,
              keyword, received_at, handled_at, handled_by)
            SELECT 1 + (i * 7919) % {patients}, 'SM' || i, '+1212' || (2000000 + i), md5(i::text),
                   'Can I move my appointment?', CASE WHEN i % 5 = 0 THEN 'stop' ELSE 'other' END,
                   now() - (i % 10000) * interval '1 minute',
                   CASE WHEN i % 2 = 0 THEN now() END, CASE WHEN i % 2 = 0 THEN 'console:b' END
            FROM generate_series(1, {max(1000, patients // 50)}) AS i""",
        # Every patient has SMS consent and its ledger entry; one in ten texted STOP since.
        """INSERT INTO consent (patient_id, channel, granted, changed_at, source, notice)
           SELECT id, 'sms', id % 10 <> 0, now(), CASE WHEN id % 10 = 0 THEN 'sms-stop'
                  ELSE 'intake-form' END, 'v1' FROM patient""",
        """INSERT INTO consent_event (patient_id, channel, granted, at, source, actor, origin,
              notice, reason)
           SELECT patient_id, channel, true, changed_at - interval '30 days', 'intake-form',
                  'import', 'import', 'v1', '' FROM consent""",
        # An audit trail: an import's row per patient, and staff changes.
        """INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)
           SELECT now() - (id % 43200) * interval '1 minute', 'console:b', 'patient.create',
                  'patient', id::text, NULL, '{}' FROM patient""",
        f"""INSERT INTO hl7_message (sender, control_id, message_type, received_at, raw, state,
              ack_code, reason, error_field, attempts, updated_at)
            SELECT 'EPIC^CLINIC', 'C' || i, 'SIU^S12', now() - i * interval '1 minute', 'MSH|',
                   CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'applied' END,
                   CASE WHEN i % 100 = 0 THEN 'AE' ELSE 'AA' END,
                   CASE WHEN i % 100 = 0 THEN 'PID-3: no patient with this MRN' ELSE '' END,
                   '', 1, now()
            FROM generate_series(1, {max(1000, patients // 10)}) AS i""",
        # Appointments today and tomorrow for Today's lists.
        f"""INSERT INTO appointment (patient_id, starts_at, ends_at, location, state,
              created_at, updated_at)
            SELECT 1 + (i * 104729) % {patients}, now() + (i % 48) * interval '1 hour',
                   now() + (i % 48) * interval '1 hour' + interval '45 minutes', 'Room 2',
                   'scheduled', now(), now()
            FROM generate_series(1, 150) AS i""",
    ]
    with engine.begin() as conn:
        for sql in statements:
            conn.execute(sa.text(sql))
    engine.dispose()
    settle(url)


def _client(url: str, folder: Path) -> tuple[Runtime, dict[str, TestClient]]:
    settings = Settings(
        database_url=url,
        schedule_path=ROOT / "schedules.yaml",
        templates_dir=ROOT / "templates",
        public_url="https://console.bench.example",
        signing_secret=secrets.token_urlsafe(32),
        twilio_auth_token=secrets.token_hex(16),
        outbox_dir=folder / "outbox",
        console_idle_minutes=600,
    )
    runtime = Runtime(settings)
    app = create_web_app(settings, runtime)
    clients: dict[str, TestClient] = {}
    for role in (Role.STAFF, Role.OPS, Role.ADMIN):
        with runtime.sessions.begin() as session:
            create_user(
                session, username=f"b-{role.value}", password=PASSWORD, role=role, actor="bench"
            )
        client = TestClient(app, base_url="https://testserver")
        answer = client.post(
            "/console/signin",
            data={"username": f"b-{role.value}", "password": PASSWORD, "next": "/console/"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        clients[role.value] = client
    return runtime, clients


def _pages(patients: int) -> dict[str, tuple[str, Callable[[int], str]]]:
    """Page name: (the role that opens it, the address of its n-th call)."""
    rng = random.Random(13)

    def pid() -> int:
        return rng.randint(1, patients)

    return {
        "Today": ("staff", lambda n: "/console/"),
        "Patients: name prefix": (
            "staff",
            lambda n: f"/console/patients?q={rng.choice(reads.LAST)[: 3 + n % 3]}",
        ),
        # One letter typed: a tenth of a million patients match and are sorted by name.
        "Patients: one letter": ("staff", lambda n: f"/console/patients?q={'BKMS'[n % 4]}"),
        "Patients: phone": ("staff", lambda n: f"/console/patients?q=%2B1212{2000000 + pid()}"),
        "A patient": ("staff", lambda n: f"/console/patients/{pid()}"),
        "A patient's consent": ("staff", lambda n: f"/console/patients/{pid()}/consent"),
        "Enroll (form)": ("staff", lambda n: f"/console/patients/{pid()}/enroll"),
        "Inbox: to read": ("staff", lambda n: "/console/inbox"),
        "Inbox: handled, page 3": ("staff", lambda n: "/console/inbox?shown=handled&page=3"),
        "Import": ("staff", lambda n: "/console/import"),
        "HL7 feed": ("staff", lambda n: "/console/hl7"),
        "Operations": ("ops", lambda n: "/console/operations"),
        "Audit": ("admin", lambda n: "/console/audit"),
        "Audit: by record type": ("admin", lambda n: "/console/audit?entity=patient&page=2"),
    }


class _Statements:
    """Times every statement the app's engine runs, to count them and to find the slowest."""

    def __init__(self, engine: sa.Engine) -> None:
        self.seen: list[tuple[float, str, Any]] = []
        self._started: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        elapsed = (time.perf_counter() - self._started.pop()) * 1000
        self.seen.append((elapsed, statement, parameters))


def _time_page(
    client: TestClient, address: Callable[[int], str], calls: int
) -> tuple[list[float], list[float]]:
    """Sorted wall and CPU milliseconds of each call (CPU: this process's, client included)."""
    first = client.get(address(0))
    assert first.status_code == 200, (address(0), first.status_code, first.text[:300])
    times, cpu = [], []
    for n in range(calls):
        began, began_cpu = time.perf_counter(), time.process_time()
        answer = client.get(address(n))
        times.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        assert answer.status_code == 200, (address(n), answer.status_code)
    return sorted(times), sorted(cpu)


def _explain(engine: sa.Engine, statement: str, parameters: Any) -> str:
    if not statement.lstrip().upper().startswith("SELECT"):
        return f"(not a SELECT) {statement[:300]}"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
        return "\n".join(str(r[0]) for r in rows)


def measure(
    progress: Progress, patients: int, per_patient: int, calls: int, *, built: bool
) -> ConsoleResult:
    """`built`: the reads phase left its database (same sizes) in place; else build it."""
    started = time.perf_counter()
    url = database_url(reads.DATABASE)
    if not built:
        url, _ = reads.prepare(patients, per_patient)
    _extras(url, patients)
    result = ConsoleResult(patients, patients * per_patient, time.perf_counter() - started)
    runtime, clients = _client(url, Path(tempfile.mkdtemp(prefix="console-bench-")))
    freeze_startup_heap()  # as the served app does once it is built (engage.asgi)
    watch = _Statements(runtime.engine)
    slowest: dict[str, tuple[float, str, Any]] = {}
    pages = _pages(patients)
    for n, (name, (role, address)) in enumerate(pages.items()):
        watch.seen.clear()
        count = calls if name != "Operations" else max(10, calls // 5)
        times, cpu = _time_page(clients[role], address, count)
        result.p50_ms[name], result.p99_ms[name] = reads._pct(times, 0.5), reads._pct(times, 0.99)
        result.cpu_p50_ms[name] = reads._pct(cpu, 0.5)
        result.statements[name] = round(len(watch.seen) / (count + 1))
        own = [seen for seen in watch.seen if "console_session" not in seen[1]]
        slowest[name] = max(own or watch.seen, key=lambda seen: seen[0])
        progress(n + 1, len(pages) + 1)
    for name in sorted(result.p99_ms, key=lambda k: result.p99_ms[k], reverse=True)[:3]:
        ms, statement, parameters = slowest[name]
        plan = _explain(runtime.engine, statement, parameters)
        result.plans[name] = f"slowest statement {ms:.1f} ms:\n{statement}\n\n{plan}"
    runtime.engine.dispose()
    progress(len(pages) + 1, len(pages) + 1)
    return result


def rows(result: ConsoleResult | None) -> list[Row]:
    from bench.report import Row

    if result is None:
        return []
    size = f"{result.patients:,} patients / {result.messages:,} messages"
    return [
        Row(
            f"console page: {name}, {size}",
            f"p99 {p99:.1f} ms (p50 {result.p50_ms[name]:.1f} ms; CPU p50 "
            f"{result.cpu_p50_ms[name]:.1f} ms; {result.statements[name]} statements a request)",
            f"p99 <= {TARGET_MS:.0f} ms",
            p99 <= TARGET_MS,
        )
        for name, p99 in result.p99_ms.items()
    ]


def section(result: ConsoleResult | None) -> str:
    if result is None:
        return ""
    lines = [
        "",
        "## Console pages at clinic-group scale",
        "",
        "Each page requested through the ASGI app in-process (routing, the session check, the "
        "queries, Jinja) on the reads phase's database plus 300 flagged messages, "
        f"{max(1000, result.patients // 50):,} replies, a consent row and ledger entry and an "
        "audit row per patient, HL7 dead letters and 150 appointments over two days, then "
        "VACUUM ANALYZE and CHECKPOINT; the app's start-up heap frozen as when served "
        "(`engage.asgi.freeze_startup_heap`: unfrozen, a full collection paused a request for "
        "0.4-0.7 s). CPU is "
        "this process's (the test client's share included); the session check each page makes "
        "is 2-3 of its statements. Plans of the slowest own statement of the three slowest "
        "pages (indexes for them: migration 0017):",
        "",
    ]
    for name, plan in result.plans.items():
        lines += [f"**{name}**", "", "```", plan, "```", ""]
    return "\n".join(lines)


def main() -> None:
    """Standalone, without `make bench`'s report: prints the figures. It holds the run lock, as
    `make bench` does: it drops the reads database another run's phases may be reading."""
    patients = int(os.environ.get("BENCH_CONSOLE_PATIENTS", "1000000"))
    calls = int(os.environ.get("BENCH_CONSOLE_CALLS", "300"))
    with one_run_at_a_time():
        try:
            found = measure(lambda done, of: None, patients, 10, calls, built=False)
        finally:
            drop_database(reads.DATABASE)
    for row in rows(found):
        print(f"{row.measurement}: {row.result} [{'met' if row.met else 'NOT MET'}]")
    print(section(found))


if __name__ == "__main__":
    main()
