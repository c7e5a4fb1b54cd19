"""`engage demo` moves the sample patients through a whole course on the shipped schedule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from engage.cli.main import app
from engage.demo import run_demo
from engage.samples import SAMPLES
from engage.schedule.loader import load_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_demo_sends_every_sequence_to_every_sample_patient(tmp_path: Path) -> None:
    schedule = load_schedule(ROOT / "schedules.yaml")
    sent = run_demo(
        schedule, ROOT / "templates", tmp_path, start=datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
    )
    assert {s.state for s in sent} == {"sent"}
    per_patient = Counter((s.patient, s.sequence) for s in sent)
    for sample in SAMPLES:
        assert per_patient[(sample.first_name, "post-infusion")] == 12  # discharge + next day x 6
        assert per_patient[(sample.first_name, "pre-infusion")] >= 10  # the first may be too close
        assert per_patient[(sample.first_name, "booster")] == 3
        assert per_patient[(sample.first_name, "education")] >= 1
    files = list((tmp_path / "outbox").glob("*.json"))
    assert len(files) == len(sent)
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
