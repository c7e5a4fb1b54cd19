"""What each chaos scenario measured, written to docs/reliability.md when the tier ends."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
_results: list[Result] = []


@dataclass(frozen=True)
class Result:
    scenario: str
    expected: str
    sent_once: int
    duplicates: int
    duplicates_allowed: int
    lost: int
    stuck: int
    quiet_sends: int
    seconds: float
    total: int
    detail: str = ""  # what the lost and stuck rows were doing (for a failure's message)

    @property
    def verdict(self) -> str:
        broken = self.lost or self.stuck or self.quiet_sends
        return "FAIL" if broken or self.duplicates > self.duplicates_allowed else "pass"


def record(result: Result) -> None:
    _results.append(result)


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=DOC.parent
    )
    return done.stdout.strip() or "unknown"


def write() -> None:
    """Rewrite docs/reliability.md from this run (only when the chaos tier ran)."""
    if not _results:
        return
    lines = [
        "# Reliability: the chaos tier",
        "",
        "Written by `make chaos` (tests/chaos) on the real stack: PostgreSQL, a broker of the",
        "tier's own, two workers, two dispatchers, the fake provider counting requests per",
        "message. Each scenario: one patient in daytime with the messages below, one in quiet",
        "hours with 20 non-critical messages that must not go out. `duplicates` counts provider",
        "requests accepted beyond the first per message (answers scripted as errors excluded);",
        "only a worker death may cause them, at most what it held in `sending` (+8), the",
        "documented window. `lost`: neither sent nor still due (a retry waiting for its",
        "backoff, or an uncertain outcome waiting to ask the provider again). `stuck`: left",
        "queued/sending, or uncertain past its due time.",
        "",
        f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit {_commit()}.",
        "",
        "| scenario | expected | sent once | duplicates | lost | stuck | quiet-hours sends"
        " | time (s) | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in _results:
        lines.append(
            f"| {r.scenario} | {r.expected} | {r.sent_once}/{r.total} |"
            f" {r.duplicates} (≤ {r.duplicates_allowed}) |"
            f" {r.lost} | {r.stuck} | {r.quiet_sends} | {r.seconds:.0f} | {r.verdict} |"
        )
    DOC.write_text("\n".join(lines) + "\n")
