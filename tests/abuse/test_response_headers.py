"""Every response carries the security headers; a 500 names its correlation id, never a trace;
/docs and /openapi.json can be closed (issue 14 items 4 and 8)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from engage.asgi import create_web_app
from tests.api_kit import Api, build_api

REQUIRED = {
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "strict-transport-security",
}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_answers_with_the_security_headers(api: Api) -> None:
    web = create_web_app(api.app.state.runtime.settings, api.app.state.runtime)
    from fastapi.testclient import TestClient

    client = TestClient(web, follow_redirects=False)
    operations = [
        (method.upper(), path)
        for path, methods in web.openapi()["paths"].items()
        for method in methods
    ]
    outside_schema = ["/", "/docs", "/redoc", "/console/", "/console/signin", "/console/patients"]
    operations += [("GET", path) for path in outside_schema]
    operations += [("GET", "/console/static/console.css"), ("POST", "/console/signin")]
    checked = 0
    for method, path in operations:
        answer = client.request(method, concrete(path), headers=api.headers("admin"))
        missing = REQUIRED - set(answer.headers)
        assert not missing, f"{method} {path} ({answer.status_code}) lacks {missing}"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        checked += 1
    assert checked > 30
    for path in ("/nowhere", "/patients/99999"):  # 404s too
        assert set(client.get(path, headers=api.headers()).headers) >= REQUIRED


def test_answers_with_phi_are_never_cached_and_static_assets_may_be(api: Api) -> None:
    patient = api.patient()
    answer = api.get(f"/patients/{patient['id']}")
    assert answer.headers["cache-control"] == "no-store"
    assert api.client.get("/unsubscribe/1/bad").headers["cache-control"] == "no-store"


def test_the_unsubscribe_page_cannot_be_framed(api: Api) -> None:
    answer = api.client.get("/unsubscribe/1/not-a-token")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_no_hsts_when_the_public_url_is_plain_http(tmp_path: Path) -> None:
    plain = build_api(f"sqlite:///{tmp_path / 'p.db'}", tmp_path, public_url="http://localhost")
    assert "strict-transport-security" not in plain.client.get("/health").headers


def test_docs_and_schema_close_with_a_setting(tmp_path: Path) -> None:
    closed = build_api(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, api_docs=False)
    web = create_web_app(closed.app.state.runtime.settings, closed.app.state.runtime)
    from fastapi.testclient import TestClient

    client = TestClient(web)
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404, path
    assert client.get("/health").status_code == 200


def test_a_500_carries_a_correlation_id_in_body_and_log_and_no_trace(
    api: Api, stderr: io.StringIO
) -> None:
    def broken() -> None:
        phone = "+15551234567"
        raise RuntimeError(f"store failed for {phone}")

    api.app.add_api_route("/broken", broken, methods=["GET"])
    answer = api.client.get("/broken")
    assert answer.status_code == 500
    body = answer.json()
    assert set(body) == {"detail", "correlation_id"}
    assert "Traceback" not in answer.text and "RuntimeError" not in answer.text
    assert answer.headers["x-request-id"] == body["correlation_id"]
    lines = [json.loads(line) for line in stderr.getvalue().splitlines() if line.strip()]
    (line,) = [e for e in lines if e.get("event") == "http.error"]
    assert line["correlation_id"] == body["correlation_id"]
    assert line["exception"]["type"] == "builtins.RuntimeError"
    assert "+15551234567" not in json.dumps(line)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_work_under_their_policy(api: Api, path: str) -> None:
    web = create_web_app(api.app.state.runtime.settings, api.app.state.runtime)
    from fastapi.testclient import TestClient

    answer = TestClient(web).get(path)
    assert answer.status_code == 200
    assert "/console/static/vendor/" in answer.text  # served locally, allowed by 'self'
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
