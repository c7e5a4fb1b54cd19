"""The chaos tier writes docs/reliability.md from what its scenarios measured."""

from __future__ import annotations

import pytest

from tests.chaos import report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    report.write()
