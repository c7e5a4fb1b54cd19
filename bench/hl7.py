"""The HL7 feed: SIU throughput on one listener against PostgreSQL, and ACK latency at 100/s.

One `engage hl7 listen` process on a fresh database with the repository's schedules.yaml; the
patients exist (registered with SMS consent), so each SIU runs the whole path: journal row,
appointment, the course enrollment on a patient's first booking, the re-plan of every message
it anchors, one commit, the ACK. Each patient's messages travel in order over one connection
(as an interface engine keeps one patient's order); ten per patient: three bookings, moves and
cancels. Peers are python-hl7's MLLP client, one thread per connection.

Throughput: `connections` peers send as fast as ACKs come back; the CPU seconds the listener
and its PostgreSQL backends spent on them, per message (the machine is shared: CPU per message
says more than wall time). Latency: one peer paced at `paced_rate` messages/s, each ACK's round
trip timed at the peer. Statements per SIU: the same script applied in this process through
`Intake` on other patients, every SQL statement counted, COPY included (the pool's pre-ping
not included).
`python -m bench.hl7 [messages] [connections]` runs it alone at a small size.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from hl7.client import MLLPClient

from bench.procs import ROOT, Group, group, group_cpu_seconds
from bench.services import drop_database, fresh_database, one_run_at_a_time
from bench.stats import percentile
from engage.store import Consent, Patient
from engage.store.db import make_engine, session_factory

Progress = Callable[[int, int], None]
DATABASE = "engage_bench_hl7"
PER_PATIENT = 10
COUNTED = 10  # patients whose script is applied in-process, every SQL statement counted
# (event, appointment letter, start day offset) for one patient's ten messages.
SCRIPT = (
    ("S12", "A", 10),
    ("S14", "A", 11),
    ("S14", "A", 12),
    ("S12", "B", 24),
    ("S14", "B", 25),
    ("S15", "A", 12),
    ("S14", "B", 26),
    ("S12", "C", 38),
    ("S14", "C", 39),
    ("S15", "C", 39),
)


@dataclass(frozen=True)
class Hl7Result:
    messages: int
    connections: int
    seconds: float
    not_aa: int  # answers other than AA in the throughput run (should be 0)
    paced_rate: float
    paced_messages: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    statements_per_message: float = 0.0
    listener_cpu_ms: float = 0.0  # per message of the throughput run
    postgres_cpu_ms: float = 0.0

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def measure(
    work: Path,
    progress: Progress,
    messages: int = 10_000,
    connections: int = 4,
    paced_seconds: float = 30.0,
    paced_rate: float = 100.0,
) -> Hl7Result:
    url = fresh_database(DATABASE)
    try:
        patients = max(connections, messages // PER_PATIENT)
        paced = int(paced_seconds * paced_rate)
        refs = _patients(url, patients + paced // PER_PATIENT + 1 + COUNTED)
        statements = _statements(url, refs[-COUNTED:])
        port = _free_port()
        env = {
            "ENGAGE_DATABASE_URL": url,
            "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
            "ENGAGE_HL7_METRICS_PORT": "0",
        }
        with group(env, work / "logs") as procs:
            procs.engage("hl7", "hl7", "listen", "--port", str(port))
            _wait_for(port)
            streams = [
                _stream(refs[i::connections][: patients // connections]) for i in range(connections)
            ]
            total = sum(len(s) for s in streams)
            done = [0]
            cpu_before = _cpu(procs, url)
            started = time.perf_counter()
            answers = _send_parallel(port, streams, lambda: progress(done[0], total), done)
            seconds = time.perf_counter() - started
            cpu = [
                after - before for after, before in zip(_cpu(procs, url), cpu_before, strict=True)
            ]
            latencies = _paced(port, _stream(refs[patients:])[:paced], paced_rate)
        return Hl7Result(
            messages=total,
            connections=connections,
            seconds=seconds,
            not_aa=sum(1 for code in answers if code != "AA"),
            paced_rate=paced_rate,
            paced_messages=len(latencies),
            ack_p50_ms=percentile(latencies, 50) * 1000,
            ack_p99_ms=percentile(latencies, 99) * 1000,
            ack_max_ms=max(latencies) * 1000,
            statements_per_message=statements,
            listener_cpu_ms=cpu[0] * 1000 / total,
            postgres_cpu_ms=cpu[1] * 1000 / total,
        )
    finally:
        drop_database(DATABASE)


def _patients(url: str, count: int) -> list[str]:
    engine = make_engine(url)
    now = datetime.now(UTC)
    refs = [f"B{n:07d}" for n in range(count)]
    with session_factory(engine)() as session:
        for n, ref in enumerate(refs):
            patient = Patient(
                external_ref=f"BAYVIEW:{ref}",
                first_name="Bench",
                last_name=f"Patient{n}",
                phone=f"+1415{5000000 + n:07d}",
                timezone="America/Los_Angeles",
                locale="en",
                preferred_channel="sms",
                created_at=now,
                updated_at=now,
            )
            patient.consents = [
                Consent(channel="sms", granted=True, changed_at=now, source="bench")
            ]
            session.add(patient)
        session.commit()
    engine.dispose()
    return refs


def _statements(url: str, refs: list[str]) -> float:
    """SQL statements per SIU: the script for `refs` through Intake, in this process."""
    from sqlalchemy import event

    from engage.hl7.intake import Intake
    from engage.schedule.loader import load_schedule

    engine = make_engine(url)
    count = [0]

    def counted(*_args: object) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    # Bulk writes (engage.store.bulk_insert) COPY through the driver's own cursor, which
    # SQLAlchemy's event does not see: each COPY is a statement too.
    copy = psycopg.Cursor.copy

    def copied(cursor: psycopg.Cursor[Any], *args: Any, **kwargs: Any) -> Any:
        counted()
        return copy(cursor, *args, **kwargs)

    psycopg.Cursor.copy = copied  # type: ignore[method-assign]
    try:
        intake = Intake(engine, load_schedule(ROOT / "schedules.yaml"))
        stream = _stream(refs)
        codes = [intake.handle(message).code for message in stream]
    finally:
        psycopg.Cursor.copy = copy  # type: ignore[method-assign]
        engine.dispose()
    if any(code != "AA" for code in codes):
        raise RuntimeError(f"statement count: answers {sorted(set(codes))}, expected AA")
    return count[0] / len(stream)


def _cpu(procs: Group, url: str) -> tuple[float, float]:
    """CPU seconds so far of the listener's process group and of this database's backends."""
    from bench.delivery import _postgres_cpu

    engine = make_engine(url)
    try:
        return group_cpu_seconds(procs.started["hl7"].pid), _postgres_cpu(engine)
    finally:
        engine.dispose()


def _stream(refs: list[str]) -> list[bytes]:
    base = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
    sent = datetime.now(UTC) - timedelta(days=1)
    out = []
    for ref in refs:
        for step, (event, letter, day) in enumerate(SCRIPT):
            start = (base + timedelta(days=day)).strftime("%Y%m%d%H%M%S+0000")
            stamp = (sent + timedelta(seconds=step)).strftime("%Y%m%d%H%M%S+0000")
            out.append(_siu(event, f"{ref}-{step}", f"{ref}{letter}", ref, start, stamp))
    return out


def _siu(event: str, control: str, filler: str, ref: str, start: str, sent: str) -> bytes:
    return (
        f"MSH|^~\\&|EPIC|BAYVIEW|ENGAGE|BAYVIEW|{sent}||SIU^{event}^SIU_S12|{control}|P|2.5.1\r"
        f"SCH|P{filler}^EPIC|{filler}^EPIC|||||KETINF^Infusion^LOCAL|||60|MIN|^^60^{start}\r"
        f"PID|1||{ref}^^^BAYVIEW^MR||PATIENT^BENCH\r"
        f"RGS|1|A\rAIS|1|A|KETINF^Infusion^LOCAL|{start}|0|MIN|60|MIN\r"
        "AIL|1|A|INF1^^^BAYVIEW^^^^^Infusion suite 1\r"
    ).encode()


def _code(reply: bytes) -> str:
    text = reply.decode(errors="replace")
    at = text.find("MSA|")
    return text[at + 4 : at + 6] if at >= 0 else "??"


def _send_parallel(
    port: int, streams: list[list[bytes]], tick: Callable[[], None], done: list[int]
) -> list[str]:
    answers: list[str] = []
    lock = threading.Lock()

    def peer(stream: list[bytes]) -> None:
        with MLLPClient("127.0.0.1", port) as client:
            for message in stream:
                code = _code(client.send_message(message))
                with lock:
                    answers.append(code)
                    done[0] += 1
                    if done[0] % 200 == 0:
                        tick()

    threads = [threading.Thread(target=peer, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _paced(port: int, stream: list[bytes], rate: float) -> list[float]:
    latencies = []
    with MLLPClient("127.0.0.1", port) as client:
        started = time.perf_counter()
        for n, message in enumerate(stream):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            client.send_message(message)
            latencies.append(time.perf_counter() - sent)
    return latencies


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"engage hl7 listen did not open port {port} in {timeout:.0f}s")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    out = ROOT / "var" / "bench" / "hl7"
    out.mkdir(parents=True, exist_ok=True)
    from bench.machine import LoadWatch

    # The run lock, as `make bench` holds it: both create and drop the database engage_bench_hl7.
    with one_run_at_a_time(), LoadWatch() as watch:
        result = measure(out, lambda d, t: None, count, conns, paced_seconds=10.0)
    print(
        f"load {watch.load.load_start:.1f}-{watch.load.load_max:.1f}, machine busy "
        f"{watch.load.busy_percent:.0f}%, others {watch.load.others_cores:.2f} cores; "
        f"{result.per_second:.0f} SIU/s on {conns} connections, "
        f"{result.statements_per_message:.1f} statements/SIU, CPU/SIU listener "
        f"{result.listener_cpu_ms:.1f} ms + postgres {result.postgres_cpu_ms:.1f} ms; ACK at "
        f"{result.paced_rate:.0f}/s p50 {result.ack_p50_ms:.1f} ms p99 {result.ack_p99_ms:.1f} ms "
        f"max {result.ack_max_ms:.1f} ms ({result.not_aa} not AA)"
    )
