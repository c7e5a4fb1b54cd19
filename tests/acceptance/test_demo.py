"""`engage demo` moves the sample patients through a whole course on the shipped schedule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from engage.cli.main import app
from engage.demo.course import run_demo
from engage.demo.samples import SAMPLES
from engage.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_demo_sends_every_sequence_to_every_sample_patient(tmp_path: Path) -> None:
    schedule = load_schedule(ROOT / "schedules.yaml")
    sent = run_demo(
        schedule, ROOT / "templates", tmp_path, start=datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    )
    delivered = [s for s in sent if s.state == "sent"]
    per_patient = Counter((s.patient, s.sequence) for s in delivered)
    for sample in SAMPLES:
        assert per_patient[(sample.first_name, "post-infusion")] == 12  # discharge + next day x 6
        assert per_patient[(sample.first_name, "booster")] == 3
        assert per_patient[(sample.first_name, "education")] == 6
    # Ana's first infusion was under way when she was enrolled: its two reminders are kept,
    # marked, and not sent; everyone else gets both reminders for all six infusions.
    assert per_patient[("Ana", "pre-infusion")] == 10
    assert per_patient[("Ben", "pre-infusion")] == per_patient[("Chloe", "pre-infusion")] == 12
    withheld = [(s.patient, s.step, s.state, s.reason) for s in sent if s.state != "sent"]
    assert withheld == [
        ("Ana", step, "suppressed", "late: its event has already happened")
        for step in ("first-3d", "first-1d")
    ]
    files = list((tmp_path / "outbox").glob("*.json"))
    assert len(files) == len(delivered)
    ben = [s for s in sent if s.patient == "Ben"]
    assert {s.channel for s in ben} == {"email"}  # Ben gave no SMS consent


def test_demo_command_prints_the_course(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--schedule", str(ROOT / "schedules.yaml"), "--keep", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "booster" in result.output
        and "discharge" in result.output
        and "totals: sent" in result.output
    )
