"""The console as a browser without JavaScript drives it: TestClient, a user per role, CSRF."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engage.accounts.users import create_user
from engage.asgi import create_web_app
from engage.runtime import Runtime
from engage.store.migrate import upgrade
from engage.store.tokens import Role
from tests.api_kit import NOW, api_settings, sendgrid_key_pair
from tests.delivery_kit import Clock

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    app: FastAPI
    client: TestClient
    sessions: sessionmaker[Session]
    clock: Clock
    runtime: Runtime

    def sign_in(self, username: str, password: str = PASSWORD) -> Any:
        return self.client.post(
            "/console/signin",
            data={"username": username, "password": password, "next": "/console/"},
            follow_redirects=False,
        )

    def csrf(self, path: str = "/console/") -> str:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        found = _CSRF.search(page.text)
        assert found, "the page has no CSRF field"
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """A form post carrying the session's CSRF token, as the page's own form would."""
        token = self.csrf()
        return self.client.post(
            path, data={"csrf": token, **(data or {})}, follow_redirects=False, **kwargs
        )


def build_console(db_url: str, tmp_path: Path, **overrides: Any) -> Console:
    upgrade(db_url)
    _, public = sendgrid_key_pair()
    settings = api_settings(db_url, tmp_path, public, **overrides)
    runtime = Runtime(settings)
    clock = Clock(NOW)
    app = create_web_app(settings, runtime, clock=clock)
    with runtime.sessions.begin() as session:
        for role in Role:
            create_user(
                session,
                username=role.value,
                password=PASSWORD,
                role=role,
                actor="test",
                display_name=f"Test {role.value.title()}",
            )
    client = TestClient(app, base_url="https://testserver")
    return Console(app, client, runtime.sessions, clock, runtime)
