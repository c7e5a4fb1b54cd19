"""The real `engage hl7 listen` process against PostgreSQL, driven by python-hl7's MLLP client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from engage.store import (
    Appointment,
    AppointmentState,
    Consent,
    Message,
    MessageState,
    Patient,
    make_engine,
)
from engage.store.hl7 import Hl7Message, Hl7State
from tests.factories import add_patient
from tests.hl7_kit import (
    REF,
    ResendingPeer,
    adt,
    fixture,
    free_port,
    send_all,
    siu,
    wait_for_port,
)
from tests.processes import ENGAGE, ROOT, Processes, processes, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class Feed:
    def __init__(self, group: Processes, url: str) -> None:
        self.group, self.url = group, url
        self.port, self.metrics_port = free_port(), free_port()
        self.engine = make_engine(url)
        self.proc = self.start()

    def start(self):  # type: ignore[no-untyped-def]
        self.group.env["ENGAGE_HL7_METRICS_PORT"] = str(self.metrics_port)
        proc = self.group.start("hl7", "hl7", "listen", "--port", str(self.port))
        wait_for_port(self.port)
        return proc

    def cli(self, *args: str) -> Any:
        """An `engage` command against the same database; its JSON output."""
        done = subprocess.run(
            [*ENGAGE, *args],
            env=self.group.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def count(self, model: type) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.fixture
def feed(postgres_db_url: str, tmp_path: Path) -> Iterator[Feed]:
    env = {
        "ENGAGE_DATABASE_URL": postgres_db_url,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
        "ENGAGE_LOG_JSON": "true",
    }
    with processes(env, tmp_path / "logs") as group:
        running = Feed(group, postgres_db_url)
        yield running
        running.engine.dispose()


def _patient(feed: Feed) -> int:
    with Session(feed.engine) as session:
        return add_patient(session, external_ref=REF, timezone="America/Los_Angeles").id


def test_golden_epic_messages_book_move_and_cancel_over_mllp(feed: Feed) -> None:
    assert send_all(feed.port, [fixture("adt_a04"), fixture("adt_a08")]) == ["AA", "AA"]
    with Session(feed.engine) as session:
        patient = session.scalars(sa.select(Patient)).one()
        assert (patient.external_ref, patient.phone) == (REF, "+14155550112")
        patient_id = patient.id
        # Staff record the patient's consent; the feed never does.
        session.add(Consent(patient_id=patient_id, channel="sms", granted=True, source="api"))
        session.commit()
    assert send_all(feed.port, [fixture("siu_s12")]) == ["AA"]
    with Session(feed.engine) as session:
        appointment = session.scalars(sa.select(Appointment)).one()
        planned = session.scalars(
            sa.select(Message).where(
                Message.appointment_id == appointment.id, Message.state == MessageState.SCHEDULED
            )
        ).all()
        assert planned, "the booking planned the infusion's messages"
        due = {m.id: m.due_at for m in planned}
        appointment_id = appointment.id
    timeline = feed.cli("timeline", str(patient_id), "--json", "--no-text")
    assert [a["id"] for a in timeline["appointments"]] == [appointment_id]
    shown = {m["id"] for m in timeline["messages"] if m["appointment_id"] == appointment_id}
    assert set(due) <= shown, "the patient's timeline shows the booking with its messages"
    assert send_all(feed.port, [fixture("siu_s14")]) == ["AA"]
    with Session(feed.engine) as session:
        moved = {
            m.id: m.due_at for m in session.scalars(sa.select(Message).where(Message.id.in_(due)))
        }
        assert all(moved[i] > due[i] for i in due), "the reschedule moved every planned message"
    assert send_all(feed.port, [fixture("siu_s15")]) == ["AA"]
    with Session(feed.engine) as session:
        assert session.scalars(sa.select(Appointment.state)).one() == AppointmentState.CANCELLED
        states = set(session.scalars(sa.select(Message.state).where(Message.id.in_(due))))
        assert MessageState.SCHEDULED not in states


def test_duplicate_stale_unknown_and_garbage_over_mllp(feed: Feed) -> None:
    _patient(feed)
    acks = send_all(
        feed.port,
        [
            siu("S12", "K1", "20270310090000", sent="20270301080000"),
            siu("S12", "K1", "20270310090000", sent="20270301080000"),  # resent
            siu("S14", "K3", "20270320090000", sent="20270303080000"),
            siu("S14", "K2", "20270315090000", sent="20270302080000"),  # older, late
            siu("S12", "K4", "20270310090000", patient="999999", filler="OTHER"),
        ],
    )
    assert acks == ["AA", "AA", "AA", "AA", "AE"]
    from hl7.client import MLLPClient

    with MLLPClient("127.0.0.1", feed.port) as client:
        assert b"MSA|AR" in client.send(b"\x0bthis is not HL7\x1c\r")
    assert feed.count(Appointment) == 1
    assert feed.count(Hl7Message) == 4  # K1 once, K3, K2 (stale), K4 (dead letter); garbage: none
    with Session(feed.engine) as session:
        appointment = session.scalars(sa.select(Appointment)).one()
        assert appointment.starts_at.isoformat() == "2027-03-20T16:00:00+00:00"
        states = dict(session.execute(sa.select(Hl7Message.control_id, Hl7Message.state)).all())
    assert states == {
        "K1": Hl7State.APPLIED,
        "K3": Hl7State.APPLIED,
        "K2": Hl7State.STALE,
        "K4": Hl7State.FAILED,
    }
    metrics = (
        urllib.request.urlopen(f"http://127.0.0.1:{feed.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    assert 'engage_hl7_messages_total{ack="AE",type="SIU^S12"} 1.0' in metrics
    assert "engage_hl7_dead_letters 1.0" in metrics
    assert "ana" not in feed.group.log_of("hl7").lower(), "no patient data in the log"
    status = feed.cli(
        "hl7", "status", "--json", "--metrics-url", f"http://127.0.0.1:{feed.metrics_port}/metrics"
    )
    assert status["connections"] == 0 and status["dead_letters"] == 1
    assert {(c["message_type"], c["ack_code"], c["state"]) for c in status["counts"]} >= {
        ("SIU^S14", "AA", "stale"),
        ("SIU^S12", "AE", "failed"),
    }
    [dead] = feed.cli("hl7", "failed", "list", "--json")
    assert (dead["control_id"], dead["error_field"]) == ("K4", "PID-3")


def test_sigkill_mid_stream_then_resent_messages_apply_exactly_once(feed: Feed) -> None:
    stream: list[bytes] = []
    for i in range(25):
        stream.append(adt(f"A{i}", f"7{i:05d}", phone=f"555{i:04d}"))
        stream.append(
            siu(
                "S12", f"S{i}", f"202704{1 + i % 28:02d}100000", patient=f"7{i:05d}", filler=f"K{i}"
            )
        )
    peer = ResendingPeer(feed.port, stream)
    sender = threading.Thread(target=peer.run)
    sender.start()
    wait_until(lambda: len(peer.acks) >= 15, 60, "15 ACKs")
    feed.group.kill(feed.proc, signal.SIGKILL)
    time.sleep(0.5)
    feed.proc = feed.start()
    sender.join(timeout=120)
    assert len(peer.acks) == len(stream) and set(peer.acks) == {"AA"}
    assert peer.resends >= 1, "the kill interrupted the stream"
    assert feed.count(Hl7Message) == len(stream)
    assert feed.count(Patient) == 25
    assert feed.count(Appointment) == 25, "each booking applied exactly once"


def _worker_pids(listener_pid: int) -> list[int]:
    """The listener's worker processes (multiprocessing's spawned children)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == listener_pid and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return pids


def test_a_killed_worker_process_is_replaced_and_its_message_resent_once(feed: Feed) -> None:
    """Messages apply in worker processes (ENGAGE_HL7_WORKERS); one killed mid-stream breaks
    the pool: its message is left unanswered, the pool is replaced, the peer resends, and every
    message is applied exactly once while the listener itself keeps running."""
    workers = _worker_pids(feed.proc.pid)
    assert len(workers) == 4, "the default four worker processes, started with the listener"
    stream = [adt(f"W{i}", f"8{i:05d}", phone=f"556{i:04d}") for i in range(40)]
    peer = ResendingPeer(feed.port, stream)
    sender = threading.Thread(target=peer.run)
    sender.start()
    wait_until(lambda: len(peer.acks) >= 10, 60, "10 ACKs")
    os.kill(workers[0], signal.SIGKILL)
    sender.join(timeout=120)
    assert len(peer.acks) == len(stream) and set(peer.acks) == {"AA"}
    assert feed.proc.poll() is None, "the listener survived its worker"
    assert feed.count(Hl7Message) == len(stream) and feed.count(Patient) == len(stream)
    replaced = _worker_pids(feed.proc.pid)
    assert len(replaced) == 4 and workers[0] not in replaced
    assert "hl7.pool-replaced" in feed.group.log_of("hl7")


def test_mllp_over_tls_with_the_librarys_asyncio_client(
    postgres_db_url: str, tmp_path: Path
) -> None:
    import asyncio
    import ssl

    from hl7.mllp import open_hl7_connection

    cert, key = tmp_path / "hl7.crt", tmp_path / "hl7.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        "ENGAGE_DATABASE_URL": postgres_db_url,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_HL7_TLS_CERT": str(cert),
        "ENGAGE_HL7_TLS_KEY": str(key),
    }
    with processes(env, tmp_path / "logs") as group:
        feed = Feed(group, postgres_db_url)
        context = ssl.create_default_context(cafile=str(cert))

        async def send() -> str:
            reader, writer = await open_hl7_connection("127.0.0.1", feed.port, ssl=context)
            writer.writemessage(fixture("adt_a04").decode())
            await writer.drain()
            reply = await asyncio.wait_for(reader.readmessage(), 20)
            writer.close()
            return str(reply.segment("MSA")(1))

        assert asyncio.run(send()) == "AA"
        assert feed.count(Patient) == 1
        feed.engine.dispose()
