"""An administrator creates console users from the shell; only an argon2id hash is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from engage.asgi import create_web_app
from engage.cli.main import app
from engage.settings import Settings
from engage.store import User, make_engine, session_factory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engage(env: dict[str, str]):
    runner = CliRunner()

    def run(*args: str, password: str | None = None, stdin: str | None = None):
        extra = {"ENGAGE_NEW_PASSWORD": password} if password else {}
        return runner.invoke(app, list(args), env=env | extra, input=stdin)

    assert run("db", "upgrade").exit_code == 0
    return run


def test_a_created_user_signs_in_and_only_a_hash_is_stored(engage, env) -> None:
    made = engage(
        "users",
        "create",
        "maria",
        "--role",
        "staff",
        "--name",
        "Maria L",
        stdin="long enough pass\nlong enough pass\n",
    )
    assert made.exit_code == 0, made.output
    with session_factory(make_engine(env["ENGAGE_DATABASE_URL"]))() as s:
        stored = s.scalars(select(User)).one()
    assert stored.password_hash.startswith("$argon2id$")
    assert "long enough pass" not in stored.password_hash
    settings = Settings(
        database_url=env["ENGAGE_DATABASE_URL"], schedule_path=ROOT / "schedules.yaml"
    )
    client = TestClient(create_web_app(settings))
    answer = client.post(
        "/console/signin",
        data={"username": "maria", "password": "long enough pass"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "maria" in engage("users", "list").stdout


def test_a_short_password_and_a_taken_name_are_refused(engage) -> None:
    short = engage("users", "create", "ana", "--role", "ops", password="short")
    assert short.exit_code == 2 and "password: at least 12 characters" in short.output
    assert (
        engage("users", "create", "ana", "--role", "ops", password="twelve chars!").exit_code == 0
    )
    taken = engage("users", "create", "ANA", "--role", "admin", password="twelve chars!")
    assert taken.exit_code == 2 and "taken" in taken.output


def test_disabling_a_user_refuses_their_sign_in(engage, env) -> None:
    engage("users", "create", "ana", "--role", "staff", password="twelve chars!")
    assert engage("users", "disable", "ana").exit_code == 0
    settings = Settings(
        database_url=env["ENGAGE_DATABASE_URL"], schedule_path=ROOT / "schedules.yaml"
    )
    client = TestClient(create_web_app(settings))
    answer = client.post("/console/signin", data={"username": "ana", "password": "twelve chars!"})
    assert answer.status_code == 401
