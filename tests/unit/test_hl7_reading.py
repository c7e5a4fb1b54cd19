"""Reading HL7 v2 fields: the golden Epic-style fixtures, local times, ACKs, the clinic's mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import hl7
import pytest

from engage.errors import InvalidInput
from engage.hl7 import ack
from engage.hl7.booking import read_booking
from engage.hl7.demographics import read_pid
from engage.hl7.fields import NotHl7, header, parse, timestamp
from engage.schedule.loader import parse_schedule
from tests.hl7_kit import ROOT, clinic_schedule, fixture, siu

LA = ZoneInfo("America/Los_Angeles")


def test_golden_adt_a04_gives_identity_name_phone_email_and_locale() -> None:
    message = parse(fixture("adt_a04").decode())
    person = read_pid(message.segment("PID"), clinic_schedule().hl7, "US")
    assert person.external_ref == "BAYVIEW:100234"  # the BAYVIEW repetition, not EPI's
    assert (person.first_name, person.last_name) == ("ANA", "RIVERA")
    assert person.phone == "+14155550111"  # XTN 5/6/7 composed, E.164
    assert person.email == "ana.rivera@example.org"  # the NET/Internet repetition
    assert person.locale == "es"  # PID-15 SPA


def test_golden_siu_s12_gives_filler_id_type_location_and_times() -> None:
    message = parse(fixture("siu_s12").decode())
    booking = read_booking(message, "S12", LA)
    assert booking.filler_id == "FL5501^EPIC"
    assert booking.action == "book"
    assert "KETINF" in booking.types
    assert booking.location_name == "Infusion suite 1"
    assert booking.starts_at == datetime(2027, 3, 10, 17, 0, tzinfo=UTC)  # 09:00 PST
    assert booking.ends_at == datetime(2027, 3, 10, 18, 0, tzinfo=UTC)


def test_header_reads_sender_control_id_type_and_time() -> None:
    head = header(parse(fixture("siu_s14").decode()), LA)
    assert (head.sender, head.control_id, head.message_type) == (
        "EPIC^BAYVIEW",
        "SIU0002",
        "SIU^S14",
    )
    assert head.sent_at == datetime(2027, 3, 6, 20, 0, tzinfo=UTC)


def test_a_skipped_local_time_moves_to_the_end_of_the_gap() -> None:
    # 2027-03-14 02:30 does not exist in Los Angeles: the clocks jump from 02:00 to 03:00 PDT.
    assert timestamp("202703140230", "AIS-4", LA) == datetime(2027, 3, 14, 10, 0, tzinfo=UTC)


def test_a_repeated_local_time_means_its_first_occurrence() -> None:
    # 2027-11-07 01:30 happens twice in Los Angeles: the first one is PDT (UTC-7).
    assert timestamp("202711070130", "AIS-4", LA) == datetime(2027, 11, 7, 8, 30, tzinfo=UTC)


def test_an_offset_is_honoured() -> None:
    assert timestamp("202703100900-0500", "AIS-4", LA) == datetime(2027, 3, 10, 14, 0, tzinfo=UTC)


def test_an_unreadable_time_names_its_field_not_its_value() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_booking(parse(siu("S12", "X1", "2027031X").decode()), "S12", LA)
    assert caught.value.field == "AIS-4"
    assert "2027031X" not in str(caught.value)


@pytest.mark.parametrize("text", ["hello", "", "PID|1||x", "MSH|^~\\&|A|B|C|D|2027||ADT^A04"])
def test_what_is_not_hl7_with_a_control_id_is_refused(text: str) -> None:
    with pytest.raises(NotHl7):
        parse(text)


def test_an_ae_carries_an_err_segment_with_the_field_and_code() -> None:
    message = parse(fixture("siu_s12").decode())
    text = ack.error(message, "PID-3: patient not known to engage", "unknown")
    reply = hl7.parse(text)
    assert str(reply.segment("MSA")(1)) == "AE"
    assert str(reply.segment("MSA")(2)) == "SIU0001"
    err = reply.segment("ERR")
    assert str(err(2)) == "PID^1^3"
    assert str(err(3)).startswith("204^")
    assert str(err(4)) == "E"


def test_an_ar_for_garbage_is_itself_valid_hl7() -> None:
    reply = hl7.parse(ack.reject("not an HL7 v2 message"))
    assert str(reply.segment("MSA")(1)) == "AR"


def test_validate_locates_an_unknown_sequence_in_the_hl7_section() -> None:
    text = (ROOT / "schedules.yaml").read_text()
    text = text.replace(
        "sequences: [education, pre-infusion, post-infusion]", "sequences: [pre-infusion, nope]"
    )
    parsed = parse_schedule(text)
    assert parsed.schedule is None
    [problem] = parsed.problems
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "nope" in row)
    assert problem.line == line
    assert "unknown sequence 'nope'" in problem.message


def test_validate_locates_an_unknown_locale_in_the_language_table() -> None:
    text = (ROOT / "schedules.yaml").read_text() + "  languages: {fre: fr}\n"
    parsed = parse_schedule(text)
    assert parsed.schedule is None
    assert any("hl7.languages" in p.message for p in parsed.problems)


def test_validate_locates_a_malformed_consent_field() -> None:
    text = (ROOT / "schedules.yaml").read_text() + "  consent:\n    sms: {field: PID13}\n"
    parsed = parse_schedule(text)
    assert parsed.schedule is None
    [problem] = parsed.problems
    assert "bad field 'PID13'" in problem.message
    assert problem.line == len(text.splitlines())
