"""An edit of schedules.yaml between planning and sending: one rule for every field.

A pending message keeps from the plan which message it is and when (its step, event, due time,
channel, critical); what it says and carries (template, attachments, anchor, fallback channels)
comes from the schedule the worker loaded, through one step lookup. These tests plan with one
schedules.yaml, edit the file, and send with a worker that loaded the edited one.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from engage.schedule.loader import load_schedule
from engage.store import MessageState
from tests.delivery_kit import SCHEDULE, Kit
from tests.fakes.provider_server import SENDGRID, ProviderServer

S = MessageState


def _edited(kit: Kit, tmp_path: Path, edit: Any) -> Kit:
    """Write the kit's schedule to schedules.yaml, apply `edit` to the file, reload it."""
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump(SCHEDULE))
    data = copy.deepcopy(yaml.safe_load(path.read_text()))
    edit({s["id"]: s for s in data["sequences"]["care"]["steps"]}, data)
    path.write_text(yaml.safe_dump(data))
    schedule = load_schedule(path)
    sender = dataclasses.replace(kit.sender, schedule=schedule)
    return dataclasses.replace(kit, schedule=schedule, sender=sender)


def _visit(kit: Kit, step: str = "visit") -> int:
    pid = kit.patient(sms=False)
    starts = kit.clock.now + timedelta(days=2)
    return kit.message(pid, step=step, channel="email", appointment_id=kit.appointment(pid, starts))


def _sent(kit: Kit, fake: ProviderServer, mid: int) -> dict[str, Any]:
    kit.dispatcher.enqueue = lambda claimed: [kit.sender.send(c.id) for c in claimed]  # type: ignore[method-assign]
    kit.run_due()
    assert kit.get(mid).state == S.SENT, kit.get(mid).reason
    [request] = fake.requests_to(SENDGRID)
    body: dict[str, Any] = request.json()
    return body


def test_an_edit_dropping_template_and_attachment_changes_both(
    kit: Kit, fake: ProviderServer, tmp_path: Path
) -> None:
    mid = _visit(kit)  # planned as the `visit` template with the calendar file

    def edit(steps: dict[str, Any], _: Any) -> None:
        steps["visit"]["template"] = "note"
        steps["visit"]["attach"] = []

    body = _sent(_edited(kit, tmp_path, edit), fake, mid)
    assert body["subject"] == "A note from Test Clinic"  # the edited template...
    assert "attachments" not in body  # ...and the edited attachments: one source for both


def test_an_edit_adding_template_and_attachment_changes_both(
    kit: Kit, fake: ProviderServer, tmp_path: Path
) -> None:
    def plain(steps: dict[str, Any], _: Any) -> None:
        steps["visit"]["template"] = "note"
        steps["visit"]["attach"] = []

    mid = _visit(_edited(kit, tmp_path, plain))  # planned as `note`, no attachment
    body = _sent(_edited(kit, tmp_path, lambda *_: None), fake, mid)  # back to the original
    assert body["subject"] == "Your visit on Friday, March 12, 2027"
    [attachment] = body["attachments"]
    assert attachment["filename"] == "appointment.ics"
    assert kit.get(mid).template == "note"  # the row keeps what was planned, as a record


def test_a_step_removed_from_the_schedule_cancels_its_pending_message(
    kit: Kit, fake: ProviderServer, tmp_path: Path
) -> None:
    mid = _visit(kit)

    def edit(_: Any, data: Any) -> None:
        steps = data["sequences"]["care"]["steps"]
        data["sequences"]["care"]["steps"] = [s for s in steps if s["id"] != "visit"]

    edited = _edited(kit, tmp_path, edit)
    edited.dispatcher.enqueue = lambda claimed: [edited.sender.send(c.id) for c in claimed]  # type: ignore[method-assign]
    edited.run_due()
    message = kit.get(mid)
    assert (message.state, message.reason) == (S.CANCELLED, "its step is no longer in the schedule")
    assert fake.requests == []
