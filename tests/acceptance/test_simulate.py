"""`engage simulate` as a clinician drives it, on the shipped schedule and templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"step", "channel", "template", "due_local", "due_utc", "critical", "segments", "body"}
COURSES = {
    "education": ["--anchor", "2027-03-01T09:00"],
    "pre-infusion": ["--anchor", "2027-03-12T10:00", "--event", "infusion.start=2027-03-19T10:00"],
    "post-infusion": ["--anchor", "2027-03-12T10:45"],
    "booster": ["--anchor", "2027-04-19T12:00"],
}


def simulate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, ["simulate", "--schedule", str(ROOT / "schedules.yaml"), *args]
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("sequence", sorted(COURSES))
def test_every_shipped_sequence_prints_its_full_course(sequence: str, locale: str) -> None:
    code, out, err = simulate(
        "--sequence",
        sequence,
        *COURSES[sequence],
        "--tz",
        "America/New_York",
        "--locale",
        locale,
        "--json",
    )
    assert code == 0, err
    items = json.loads(out)
    assert items, "no messages"
    assert all(set(item) >= KEYS for item in items)
    assert [i["due_utc"] for i in items] == sorted(i["due_utc"] for i in items)
    for item in items:
        assert item["body"].strip()
        if item["channel"] == "sms":
            assert item["segments"] >= 1 and "STOP" in item["body"]


def test_pre_infusion_course_has_fuller_first_reminders_and_later_ones() -> None:
    _, out, _ = simulate(
        "--sequence", "pre-infusion", *COURSES["pre-infusion"], "--tz", "America/New_York", "--json"
    )
    steps = [item["step"] for item in json.loads(out)]
    assert steps == ["first-3d", "first-1d", "later-3d", "later-1d"]


def test_local_send_time_holds_across_the_dst_change() -> None:
    # 2027-03-14 is the US spring-forward: the day-before reminder at 17:00 stays 17:00 local.
    _, out, _ = simulate(
        "--sequence",
        "pre-infusion",
        "--anchor",
        "2027-03-15T10:00",
        "--tz",
        "America/New_York",
        "--json",
    )
    by_step = {item["step"]: item for item in json.loads(out)}
    assert by_step["first-1d"]["due_local"] == "2027-03-14T17:00:00-04:00"
    assert by_step["first-3d"]["due_local"] == "2027-03-12T10:00:00-05:00"


def test_post_infusion_discharge_is_critical_and_immediate() -> None:
    _, out, _ = simulate(
        "--sequence",
        "post-infusion",
        *COURSES["post-infusion"],
        "--tz",
        "America/Chicago",
        "--json",
    )
    first = json.loads(out)[0]
    assert (first["step"], first["critical"], first["due_local"]) == (
        "discharge",
        True,
        "2027-03-12T10:45:00-06:00",
    )


def test_table_output_names_segments_and_text() -> None:
    code, out, _ = simulate(
        "--sequence", "booster", *COURSES["booster"], "--tz", "Europe/Madrid", "--locale", "es"
    )
    assert code == 0
    assert "booster (es, Europe/Madrid): 3 messages" in out and "due-soon" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sequence", "nope", "--anchor", "2027-03-01T09:00", "--tz", "UTC"],
            "unknown sequence 'nope'",
        ),
        (
            ["--sequence", "booster", "--anchor", "2027-03-01T09:00", "--tz", "Mars/Base"],
            "unknown time zone 'Mars/Base'",
        ),
        (
            ["--sequence", "booster", "--anchor", "yesterday", "--tz", "UTC"],
            "--anchor: bad date 'yesterday'",
        ),
        (
            [
                "--sequence",
                "booster",
                "--anchor",
                "2027-03-01T09:00",
                "--tz",
                "UTC",
                "--event",
                "oops",
            ],
            "expected NAME=ISO",
        ),
        (
            [
                "--sequence",
                "booster",
                "--anchor",
                "2027-03-01T09:00",
                "--tz",
                "UTC",
                "--locale",
                "fr",
            ],
            "--locale 'fr'",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(args: list[str], message: str) -> None:
    code, out, err = simulate(*args)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err


def test_a_skipped_local_anchor_is_read_as_engage_enroll_reads_it() -> None:
    # 02:30 does not exist in New York on 2027-03-14: `engage enroll` reads it as 03:00 EDT (the
    # first minute after the jump); simulate read it as 03:30. The discharge is at the anchor.
    _, out, _ = simulate(
        "--sequence",
        "post-infusion",
        "--anchor",
        "2027-03-14T02:30",
        "--tz",
        "America/New_York",
        "--json",
    )
    first = json.loads(out)[0]
    assert (first["step"], first["due_utc"]) == ("discharge", "2027-03-14T07:00:00Z")


def test_the_education_welcome_goes_out_for_an_enrollment_at_two_in_the_afternoon() -> None:
    _, out, _ = simulate(
        "--sequence",
        "education",
        "--anchor",
        "2027-03-01T14:00",
        "--tz",
        "America/New_York",
        "--json",
    )
    welcome = json.loads(out)[0]
    assert (welcome["step"], welcome["due_local"], welcome["skip_reason"]) == (
        "welcome",
        "2027-03-01T14:00:00-05:00",
        None,
    )
