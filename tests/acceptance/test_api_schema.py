"""Schemathesis drives every documented operation with generated requests (an admin token, so
role checks let everything through): no 500, and every answer is one the schema declares, with
the declared content type and body shape."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.api_kit import build_api

# Schemathesis loads the schema at collection, from a live app; its checks that re-send a
# request reach the same app. One SQLite file in a private folder serves every operation.
_FOLDER = Path(tempfile.mkdtemp(prefix="engage-schemathesis-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
API = build_api(f"sqlite:///{_FOLDER / 'engage.db'}", _FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", API.app)
# Left out, on purpose:
# - positive/negative data checks: validity here goes beyond JSON Schema (a real phone number,
#   an IANA zone, a date within range, a known sequence), so schema-valid data may well be 422;
# - allow_header_conformance: Starlette's 405 lists the methods of the one route it matched,
#   not of every route on that path (GET and POST /patients are two routes).
NOT_APPLICABLE = [
    checks.positive_data_acceptance,
    checks.negative_data_rejection,
    checks.allow_header_conformance,
]


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_honours_its_documented_responses(case) -> None:
    case.call_and_validate(headers=API.headers("admin"), excluded_checks=NOT_APPLICABLE)
