"""The peer: GOV.UK Notify's send pattern, as a Celery app on the same broker and database.

Notify (alphagov/notifications-api, app/celery/provider_tasks.py `deliver_sms` and
app/delivery/send_to_providers.py `send_sms_to_provider`) queues one task per notification;
the task opens a database session, loads the notification, sends only if it is still waiting,
renders its template, calls the provider's SDK and records the result (status, reference,
sent_at) in the same session. This is that shape on engage's tables: one `peer.deliver`
task per message id, SQLAlchemy session per task, the Twilio SDK (through the same urllib3
client engage uses, so the transport is not what differs), Jinja2 for the body.
Run as `celery -A bench.peer_app worker` with BENCH_PEER_DATABASE_URL and the Twilio variables.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from celery import Celery
from jinja2 import Template
from twilio.rest import Client

from engage.channels.twilio_http import UrllibHttpClient

BROKER = os.environ.get("BENCH_PEER_BROKER", "redis://127.0.0.1:6379/13")
QUEUE = "peer-sms"
BODY = Template("Hello {{ first_name }}. Reply STOP to opt out.")

app = Celery("peer", broker=BROKER)
# kombu's Redis transport pools 10 connections by default: with acks_late, 64 greenlets acking
# at once ran out ("Too many connections" on ack, each such task left unacked until the
# visibility timeout). Notify sizes its pools to its concurrency; so does the peer here.
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=4,
    task_default_queue=QUEUE,
    broker_transport_options={"max_connections": 128},
)

# Database connections per worker process. The server (max_connections 100) is shared by both
# peer workers, the bench and everyone else on the machine: 40 a process (50 with the default
# overflow) took it past its limit at -c 32, tasks failed with "too many clients" and their
# messages were never sent, so each such run waited out the phase's 10-minute limit. A task
# holds its connection for about one provider round trip, so 20 carry ~350 tasks/s a process,
# far above what the peer's CPU allows; a task beyond them waits for one (no overflow).
POOL_SIZE = int(os.environ.get("BENCH_PEER_POOL_SIZE", "20"))
RETRY_SECONDS = 1.0  # Notify retries deliver_sms on any exception; so does the peer

_engine: sa.Engine | None = None
_client: Client | None = None
_lock = threading.Lock()


def _resources() -> tuple[sa.Engine, Client]:
    global _engine, _client
    with _lock:  # the pool's threads start together: one engine and one client a process
        if _engine is None or _client is None:
            _engine = sa.create_engine(
                os.environ["BENCH_PEER_DATABASE_URL"],
                pool_size=POOL_SIZE,
                max_overflow=0,
                pool_timeout=60,
            )
            http = UrllibHttpClient(os.environ["ENGAGE_TWILIO_BASE_URL"], 10.0, 40)
            _client = Client("AC" + "0" * 32, "token", http_client=http)
    return _engine, _client


@app.task(name="peer.deliver", bind=True, max_retries=5)  # type: ignore[untyped-decorator]
def deliver(self: Any, message_id: int) -> None:
    try:
        _deliver(message_id)
    except Exception as exc:  # Notify: self.retry(queue=retry) on any exception
        raise self.retry(exc=exc, countdown=RETRY_SECONDS) from None


def _deliver(message_id: int) -> None:
    engine, client = _resources()
    with engine.begin() as conn:
        row = conn.execute(
            sa.text(
                "SELECT m.id, m.state, p.phone, p.first_name FROM message m "
                "JOIN patient p ON p.id = m.patient_id WHERE m.id = :id"
            ),
            {"id": message_id},
        ).one_or_none()
        if row is None or row.state != "scheduled":  # Notify: status != 'created' -> skip
            return
        created = client.messages.create(
            to=row.phone,
            from_="+15005550006",
            body=BODY.render(first_name=row.first_name),
            status_callback=f"https://peer.example/status/{row.id}",
        )
        conn.execute(
            sa.text(
                "UPDATE message SET state = 'sent', provider_id = :sid, sent_at = :now, "
                "attempts = attempts + 1, updated_at = :now WHERE id = :id"
            ),
            {"sid": str(created.sid), "now": datetime.now(UTC), "id": row.id},
        )
