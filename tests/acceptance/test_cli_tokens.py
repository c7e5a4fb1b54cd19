"""An administrator makes API tokens from the shell: shown once, stored hashed, revocable."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from engage.api.app import create_app
from engage.cli.main import app
from engage.settings import Settings
from engage.store import ApiToken, make_engine, session_factory


@pytest.fixture
def engage(env: dict[str, str]):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    assert run("db", "upgrade").exit_code == 0
    return run


def test_created_token_is_printed_once_and_stored_only_as_a_hash(engage, env) -> None:
    result = engage("tokens", "create", "--role", "staff", "--name", "front-desk")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("eng_") and "shown once" in result.stderr
    listing = engage("tokens", "list")
    assert "front-desk" in listing.stdout and token not in listing.stdout
    with session_factory(make_engine(env["ENGAGE_DATABASE_URL"]))() as s:
        stored = s.scalars(select(ApiToken)).one()
    assert stored.token_hash != token and token not in stored.token_hash


def test_the_token_opens_the_api_until_revoked(engage, env) -> None:
    token = engage("tokens", "create", "--role", "staff", "--name", "desk").stdout.strip()
    client = TestClient(create_app(Settings(database_url=env["ENGAGE_DATABASE_URL"])))
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/patients", headers=auth).status_code == 200
    assert client.get("/tokens", headers=auth).status_code == 403
    assert engage("tokens", "revoke", "1").exit_code == 0
    assert client.get("/patients", headers=auth).status_code == 401


def test_bad_role_or_unknown_token_exit_non_zero(engage) -> None:
    assert engage("tokens", "create", "--role", "root", "--name", "x").exit_code == 2
    result = engage("tokens", "revoke", "42")
    assert result.exit_code == 1 and "token 42 not found" in result.stderr
