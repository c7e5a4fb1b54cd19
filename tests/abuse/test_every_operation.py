"""Every operation, driven with hostile text: NUL bytes everywhere (schemathesis) and lone
surrogates in every JSON body and query: never a 5xx (issue 14 item 9)."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.api_kit import build_api

_FOLDER = Path(tempfile.mkdtemp(prefix="engage-abuse-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
API = build_api(f"sqlite:///{_FOLDER / 'engage.db'}", _FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", API.app)
schema.config.generation.update(allow_x00=True, codec=None)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_5xx_to_hostile_text(case) -> None:
    case.call_and_validate(headers=API.headers("admin"), checks=[checks.not_a_server_error])


OPERATIONS = [
    (method.upper(), re.sub(r"\{[^}]+\}", "1", path))
    for path, methods in API.app.openapi()["paths"].items()
    for method in methods
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("text", ["\\ud800", "\\udfff tail", "a\\u0000b"])
def test_a_lone_surrogate_or_nul_in_json_is_never_a_5xx(method: str, path: str, text: str) -> None:
    body = f'{{"first_name": "{text}", "source": "{text}", "granted": true, "q": "{text}"}}'
    answer = API.client.request(
        method,
        path,
        content=body,
        headers=API.headers("admin") | {"Content-Type": "application/json"},
    )
    assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:200])
    if method in ("POST", "PUT", "PATCH") and answer.status_code == 422:
        answer.json()  # an encodable explanation


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op[0] == "GET"])
def test_a_nul_in_any_query_is_never_a_5xx(method: str, path: str) -> None:
    answer = API.client.get(f"{path}?q=%00&status=%00&since=%00", headers=API.headers("admin"))
    assert answer.status_code < 500, (path, answer.status_code)
