"""docs/sequences.md is what `make docs` generates from today's schedule and templates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sequences_page_matches_the_templates() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_sequences_page_shows_every_sequence_in_both_locales() -> None:
    page = (ROOT / "docs" / "sequences.md").read_text()
    for sequence in ("education", "pre-infusion", "post-infusion", "booster"):
        for locale in ("en", "es"):
            assert f"### {sequence} · {locale} · SMS preferred" in page
