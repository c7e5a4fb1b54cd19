"""Consent on a patient's page: record a decision staff heard from the patient, and the ledger.

The write is the consent service's (engage.consent.service.change, as the API's PUT): granting
with a source and a reason is new express consent; a channel the patient closed themselves is
re-opened only that way, and the service refuses anything else. The ledger is the append-only
consent_event table (service.history), newest first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from engage.consent import service
from engage.console import consentform, web
from engage.patients.records import load_patient
from engage.store.patients import Patient

router = APIRouter()


def consent_context(session: Session, patient: Patient, limit: int = 200) -> dict[str, Any]:
    """What the consent form and ledger show: each channel's state and the history."""
    current = {ch: service.current(session, patient.id, ch) for ch, _ in consentform.CHANNELS}
    ledger = service.history(session, patient.id)
    return {
        "held": consentform.held(current),
        "ledger": list(reversed(ledger))[:limit],
        "ledger_total": len(ledger),
        "channels": consentform.CHANNELS,
        "sources": consentform.SOURCES,
    }


@router.get("/patients/{patient_id}/consent")
def consent_page(
    request: Request, patient_id: int, who: web.Staff, sessions: web.Sessions
) -> Response:
    with sessions() as session:
        patient = load_patient(session, patient_id)
        context = consent_context(session, patient)
    return _render(request, who, patient, context, {}, {})


@router.post("/patients/{patient_id}/consent")
async def record_consent(
    request: Request, patient_id: int, who: web.Staff, sessions: web.Sessions, now: web.Now
) -> Response:
    form = await web.checked(request, who)
    with sessions.begin() as session:
        patient = load_patient(session, patient_id)
        decision, errors = consentform.parse(form, patient)
        if decision is not None:
            outcome = service.change(
                session,
                patient.id,
                decision.channel,
                granted=decision.granted,
                source=decision.source,
                actor=who.actor,
                now=now,
                origin=service.Origin.EXPRESS if decision.granted else service.Origin.STAFF,
                notice=decision.notice,
                reason=decision.reason,
            )
            if outcome.refused:
                errors = {"decision": f"not recorded: {outcome.refused}"}
            else:
                word = "granted" if decision.granted else "withdrawn"
                note = f"{decision.channel.upper()} consent {word}."
                if not outcome.changed:
                    note = f"{decision.channel.upper()} consent was already so; nothing changed."
                target = f"{web.PREFIX}/patients/{patient.id}?done={quote(note)}#h-consent"
                return RedirectResponse(target, 303)
        context = consent_context(session, patient)
        return _render(request, who, patient, context, form, errors, 422)


def _render(
    request: Request,
    who: web.Viewer,
    patient: Patient,
    context: dict[str, Any],
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    return web.render(
        request,
        "consent.html",
        who,
        status,
        title=f"Consent: {patient.first_name} {patient.last_name}",
        p=patient,
        zone=patient.timezone,
        values=values,
        errors=errors,
        **context,
    )
