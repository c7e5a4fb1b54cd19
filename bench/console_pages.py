"""Console pages' server time on a large database: p50 and p99 of each page, against the issue's
target (p99 <= 150 ms at a million patients).

Standalone (not yet a `make bench` phase): `.venv/bin/python -m bench.console_pages`.
BENCH_CONSOLE_PATIENTS (1,000,000), BENCH_CONSOLE_PER_PATIENT (10 messages), BENCH_CONSOLE_CALLS
(100 per page). The database is the reads phase's (bench.reads._build: patients, enrollments,
messages, their events), plus what the worklist pages read: flagged messages, replies (half
handled), consent ledgers, audit rows and HL7 dead letters. Each page is requested through the
ASGI app in this process (TestClient: routing, the session check, the queries, Jinja), signed in
as the role that uses it; the database is `engage_console_pages`, dropped at the end.
"""

from __future__ import annotations

import os
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from bench import reads
from bench.procs import ROOT
from bench.services import drop_database, fresh_database
from engage.accounts.users import create_user
from engage.asgi import create_web_app
from engage.runtime import Runtime
from engage.settings import Settings
from engage.store.tokens import Role

DATABASE = "engage_console_pages"
TARGET_MS = 150.0
PASSWORD = "bench console password"


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
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def _client(url: str, folder: Path) -> tuple[TestClient, TestClient, TestClient]:
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
    clients = []
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
        clients.append(client)
    return clients[0], clients[1], clients[2]


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


def measure(patients: int, per_patient: int, calls: int) -> dict[str, tuple[float, float]]:
    url = fresh_database(DATABASE)
    try:
        started = time.perf_counter()
        reads._build(url, patients, per_patient)
        _extras(url, patients)
        print(f"built {patients:,} patients in {time.perf_counter() - started:.0f} s")
        staff, ops, admin = _client(url, Path(tempfile.mkdtemp(prefix="console-bench-")))
        by_role = {"staff": staff, "ops": ops, "admin": admin}
        found: dict[str, tuple[float, float]] = {}
        for name, (role, address) in _pages(patients).items():
            client = by_role[role]
            first = client.get(address(0))
            assert first.status_code == 200, (name, first.status_code, first.text[:300])
            times = []
            for n in range(calls if name != "Operations" else max(10, calls // 5)):
                began = time.perf_counter()
                answer = client.get(address(n))
                times.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, (name, answer.status_code)
            times.sort()
            found[name] = (reads._pct(times, 0.5), reads._pct(times, 0.99))
        return found
    finally:
        drop_database(DATABASE)


def main() -> None:
    patients = int(os.environ.get("BENCH_CONSOLE_PATIENTS", "1000000"))
    per_patient = int(os.environ.get("BENCH_CONSOLE_PER_PATIENT", "10"))
    calls = int(os.environ.get("BENCH_CONSOLE_CALLS", "100"))
    found = measure(patients, per_patient, calls)
    table = Table(
        title=f"Console pages, {patients:,} patients, {patients * per_patient:,} messages"
    )
    for column in ("page", "p50 ms", "p99 ms", f"p99 <= {TARGET_MS:.0f} ms"):
        table.add_column(column)
    for name, (p50, p99) in found.items():
        table.add_row(name, f"{p50:.1f}", f"{p99:.1f}", "yes" if p99 <= TARGET_MS else "NO")
    Console().print(table)


if __name__ == "__main__":
    main()
