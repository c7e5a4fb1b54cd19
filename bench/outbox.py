"""Fill the outbox fast, in SQL: P patients (SMS + email consent, one enrollment each), N messages.

Messages go round-robin over the patients, as a clinic's would (one patient with 100,000
messages would make every per-patient query pathological). `due_at = start + i * spacing`.
generate_series keeps a million rows to seconds, with every index in place.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

_PATIENTS = """
INSERT INTO patient (external_ref, first_name, last_name, phone, email, timezone, locale,
                     preferred_channel, created_at, updated_at)
SELECT :tag || g, 'Load', 'Test', '+1' || (2000000000 + :first + g)::text,
       'load' || (:first + g) || '@example.org', 'UTC', 'en',
       'sms', now(), now()
FROM generate_series(1, :patients) AS g
"""
_CONSENTS = """
INSERT INTO consent (patient_id, channel, granted, changed_at, source, notice)
SELECT id, c, true, now(), 'bench', ''
FROM patient, unnest(ARRAY['sms', 'email']) AS c WHERE external_ref LIKE :tag || '%'
"""
_ENROLLMENTS = """
INSERT INTO enrollment (patient_id, sequence, state, reason, enrolled_at, created_at, updated_at)
SELECT id, 'load', 'active', '', now(), now(), now()
FROM patient WHERE external_ref LIKE :tag || '%'
"""
_MESSAGES = """
WITH e AS (
    SELECT e.id, e.patient_id, (row_number() OVER (ORDER BY e.id)) - 1 AS k
    FROM enrollment e JOIN patient p ON p.id = e.patient_id
    WHERE p.external_ref LIKE :tag || '%'
)
INSERT INTO message (patient_id, enrollment_id, sequence, step_id, event_key, occurrence, channel,
                     template, critical, due_at, state, reason, attempts, created_at, updated_at)
SELECT e.patient_id, e.id, 'load', 'ping', 'e' || g, 1,
       (string_to_array(:channels, ','))[1 + g % :kinds], 'ping', false,
       CAST(:start AS timestamptz) + g * make_interval(secs => :spacing),
       'scheduled', '', 0, now(), now()
FROM generate_series(0, :messages - 1) AS g JOIN e ON e.k = g % :patients
"""


def fill(
    engine: sa.Engine,
    messages: int,
    patients: int,
    start: datetime,
    spacing: float = 0.0,
    tag: str = "bench",
    channels: tuple[str, ...] = ("sms",),
) -> None:
    """Store `patients` new patients (SMS and email consent) and `messages` scheduled messages,
    their channels taken in turn from `channels`, in one transaction."""
    params = {
        "tag": f"{tag}-",
        "first": _patients_so_far(engine),
        "patients": patients,
        "messages": messages,
        "start": start,
        "spacing": spacing,
        "channels": ",".join(channels),
        "kinds": len(channels),
    }
    with engine.begin() as conn:
        for statement in (_PATIENTS, _CONSENTS, _ENROLLMENTS, _MESSAGES):
            conn.execute(sa.text(statement), params)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))


def _patients_so_far(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM patient")).scalar_one())
