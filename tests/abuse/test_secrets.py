"""Outside the embedded mode engage refuses to start on a missing, sample or short secret,
naming the variable; the embedded mode makes its own (issue 14 item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli.main import app
from engage.errors import ConfigError
from engage.settings import load_settings

STRONG = "k" * 40
ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def example_secret() -> str:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.startswith("ENGAGE_SIGNING_SECRET="):
            return line.split("=", 1)[1]
    raise AssertionError(".env.example names no ENGAGE_SIGNING_SECRET")


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGE_BROKER_URL", "redis://127.0.0.1:1/0")
    for name in ("ENGAGE_SIGNING_SECRET", "ENGAGE_TWILIO_ACCOUNT_SID", "ENGAGE_TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "required"),
        ("dev-only-change-me", "sample"),
        ("short-but-not-sample", "shorter than 32 bytes"),
    ],
)
def test_a_weak_signing_secret_is_refused_naming_the_variable(
    production: pytest.MonkeyPatch, value: str | None, why: str
) -> None:
    if value is not None:
        production.setenv("ENGAGE_SIGNING_SECRET", value)
    with pytest.raises(ConfigError, match=f"ENGAGE_SIGNING_SECRET: .*{why}"):
        load_settings()


def test_the_env_example_value_is_refused(production: pytest.MonkeyPatch) -> None:
    production.setenv("ENGAGE_SIGNING_SECRET", example_secret())
    with pytest.raises(ConfigError, match="ENGAGE_SIGNING_SECRET: is a published sample"):
        load_settings()


def test_engage_api_refuses_to_start_with_the_old_default(production: pytest.MonkeyPatch) -> None:
    production.setenv("ENGAGE_SIGNING_SECRET", "dev-only-change-me")
    result = CliRunner().invoke(app, ["api", "--port", "0"])
    assert result.exit_code == 2
    assert "ENGAGE_SIGNING_SECRET" in result.output


def test_a_short_twilio_token_is_refused_when_twilio_is_configured(
    production: pytest.MonkeyPatch,
) -> None:
    production.setenv("ENGAGE_SIGNING_SECRET", STRONG)
    production.setenv("ENGAGE_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    production.setenv("ENGAGE_TWILIO_AUTH_TOKEN", "token")
    with pytest.raises(ConfigError, match="ENGAGE_TWILIO_AUTH_TOKEN: shorter than 32"):
        load_settings()
    production.setenv("ENGAGE_TWILIO_AUTH_TOKEN", "f" * 32)
    assert load_settings().twilio_auth_token == "f" * 32


def test_the_embedded_mode_generates_one_secret_and_keeps_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENGAGE_BROKER_URL", raising=False)
    monkeypatch.delenv("ENGAGE_SIGNING_SECRET", raising=False)
    first = load_settings().signing_secret
    assert len(first) >= 32 and first != "dev-only-change-me"
    assert load_settings().signing_secret == first  # the worker and the API agree
    assert (tmp_path / "var" / "signing-secret").stat().st_mode & 0o077 == 0
