"""The abuse tier: what an outsider can send, each case a finding of issue 14 that once held.

Every test here is marked `abuse` (select with `pytest -m abuse`); `make test` and CI run it.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from engage.logs import configure_logging


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/abuse/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.abuse)


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What engage's production log configuration writes to stderr."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("DEBUG", json=True)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.fixture
def api(tmp_path):  # type: ignore[no-untyped-def]
    """The whole HTTP app (API and console) on a migrated SQLite file."""
    from tests.api_kit import build_api

    return build_api(f"sqlite:///{tmp_path / 'engage.db'}", tmp_path)
