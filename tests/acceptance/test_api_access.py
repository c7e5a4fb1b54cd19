"""Every route of the app, walked: without a token only health, readiness, metrics, the docs,
the provider webhooks and the unsubscribe link answer; with a token of the wrong role, 403."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from tests.api_kit import Api, build_api

# Answer without a token: liveness and readiness probes, Prometheus, the API's own docs, and
# what providers or patients' mail clients call (they prove themselves by signature or token).
PUBLIC = re.compile(
    r"^/(health|ready|metrics|openapi\.json|docs.*|redoc|webhooks/.*|unsubscribe/.*)$"
)
# Which role each protected route needs (admin passes everywhere).
ROLE_OF = (
    (re.compile(r"^/tokens"), "admin"),
    (re.compile(r"^/ops/"), "ops"),
    (re.compile(r"^/"), "staff"),
)


def walk(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
            inner = route.original_router
            # Its routes carry its own prefix already; add only the one it was included with.
            yield from walk(inner.routes, prefix + route.include_context.prefix)


def concrete(path: str) -> str:
    """A path with every parameter filled in, naming no record (the walk must change nothing:
    revoking token 1 would revoke the staff token the walk itself uses)."""
    return re.sub(r"\{[^}]+\}", "999999", path)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Api:
    folder = tmp_path_factory.mktemp("access")
    return build_api(f"sqlite:///{folder / 'engage.db'}", folder)


@pytest.fixture(scope="module")
def routes(api: Api) -> list[tuple[str, str]]:
    found = sorted(set(walk(api.app.routes)))
    assert len(found) > 30  # the walk really reaches the included routers
    return found


def call(api: Api, method: str, path: str, role: str | None) -> int:
    return api.client.request(method, concrete(path), headers=api.headers(role)).status_code


def test_only_public_routes_answer_without_a_token(api: Api, routes: list[tuple[str, str]]) -> None:
    answered = {(m, p) for m, p in routes if call(api, m, p, None) != 401}
    assert answered == {(m, p) for m, p in routes if PUBLIC.match(p)}
    assert ("GET", "/health") in answered
    assert ("POST", "/webhooks/twilio/sms") in answered
    assert ("POST", "/unsubscribe/{message_id}/{token}") in answered


def test_a_revoked_or_unknown_token_is_401(api: Api) -> None:
    bad = {"Authorization": "Bearer eng_not-a-token"}
    assert api.client.get("/patients", headers=bad).status_code == 401
    assert api.client.get("/patients", headers={"Authorization": "Basic x"}).status_code == 401
    created = api.post("/tokens", role="admin", json={"name": "temp", "role": "staff"}).json()
    temp = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/patients", headers=temp).status_code == 200
    api.post(f"/tokens/{created['id']}/revoke", role="admin")
    answer = api.client.get("/patients", headers=temp)
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_of_the_wrong_role_is_403_on_every_protected_route(
    api: Api, routes: list[tuple[str, str]]
) -> None:
    for method, path in routes:
        if PUBLIC.match(path):
            continue
        needed = next(role for pattern, role in ROLE_OF if pattern.match(path))
        for role in ("staff", "ops"):
            status = call(api, method, path, role)
            if role == needed:
                assert status not in (401, 403), (method, path, role)
            else:
                assert status == 403, (method, path, role, status)
        assert call(api, method, path, "admin") not in (401, 403), (method, path)
