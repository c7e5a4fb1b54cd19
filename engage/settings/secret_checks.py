"""Secrets engage refuses to run with, and the embedded mode's own signing secret.

Outside the embedded mode (a broker is configured: workers, dispatchers and the API are
separate processes, reachable by others) a missing, sample or short secret is a start-up
error naming the variable: the old default `dev-only-change-me` is public, and an unsubscribe
token computed with it closed a real patient's email. The embedded `engage run` needs no
setup: it generates a random secret once and keeps it in `var/signing-secret`.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # settings.load_settings calls this module: no import back at run time
    from engage.settings import Settings

MIN_SECRET_BYTES = 32
# Values published in our own files (the old default, .env.example, docs): never a secret.
SAMPLE_VALUES = frozenset(
    {
        "dev-only-change-me",
        "change-me-to-a-long-random-string",
        "change-me",
        "changeme",
        "secret",
    }
)


def is_embedded(settings: Settings) -> bool:
    return not settings.broker_url


def _problem(variable: str, value: str, how: str) -> str | None:
    if not value:
        return f"{variable}: required outside the embedded mode (ENGAGE_BROKER_URL is set)"
    if value in SAMPLE_VALUES:
        return f"{variable}: is a published sample value; {how}"
    if len(value.encode()) < MIN_SECRET_BYTES:
        return f"{variable}: shorter than {MIN_SECRET_BYTES} bytes; {how}"
    return None


_GENERATE = 'generate one: python -c "import secrets; print(secrets.token_urlsafe(48))"'
_TWILIO = "copy the Auth Token (32 characters) from the Twilio console"


def secret_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve: each problem names its variable."""
    if is_embedded(settings):
        return []
    found = [_problem("ENGAGE_SIGNING_SECRET", settings.signing_secret, _GENERATE)]
    if settings.twilio_account_sid:
        found.append(_problem("ENGAGE_TWILIO_AUTH_TOKEN", settings.twilio_auth_token, _TWILIO))
    return [problem for problem in found if problem]


def embedded_secret(settings: Settings) -> Settings:
    """In the embedded mode with no secret set, one generated once and kept in var/."""
    if not is_embedded(settings) or settings.signing_secret:
        return settings
    path = Path(settings.outbox_dir).parent / "signing-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return settings.model_copy(update={"signing_secret": path.read_text().strip()})
