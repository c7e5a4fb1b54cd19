"""One settings object, read from the environment (prefix `ENGAGE_`) once at start-up.

Secrets may also come from a file: `ENGAGE_TWILIO_AUTH_TOKEN_FILE=/run/secrets/twilio` reads it.
A malformed value fails loudly, naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engage.errors import ConfigError
from engage.settings.secret_checks import embedded_secret, secret_problems

_SECRET_FIELDS = (
    "twilio_auth_token",
    "sendgrid_api_key",
    "signing_secret",
    "sendgrid_webhook_public_key",
)


class Settings(BaseSettings):
    """Every knob engage reads; defaults are the embedded, single-process mode."""

    model_config = SettingsConfigDict(env_prefix="ENGAGE_", extra="ignore")

    database_url: str = "sqlite:///engage.db"
    broker_url: str = ""  # empty: embedded mode, no external broker
    redis_url: str = ""  # shared rate limits; defaults to the broker when that is Redis
    schedule_path: Path = Path("schedules.yaml")
    templates_dir: Path = Path("templates")
    public_url: str = "http://127.0.0.1:8000"
    outbox_dir: Path = Path("var/outbox")  # the file channel writes here in embedded mode
    # Signs unsubscribe links; required outside the embedded mode (engage.settings.secret_checks).
    signing_secret: str = ""

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = ""  # e.g. http://127.0.0.1:4010 to aim the SDK at a fake
    sendgrid_api_key: str = ""
    sendgrid_from: str = ""
    sendgrid_base_url: str = ""
    sendgrid_webhook_public_key: str = ""

    sms_rate_per_second: float = Field(default=10.0, gt=0)
    email_rate_per_second: float = Field(default=50.0, gt=0)
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int | None = Field(default=None, ge=1)  # optional ceiling; the deadline rules
    retry_horizon_hours: float = Field(default=24.0, gt=0)  # retries end this long after failing
    critical_alert_after_seconds: float = Field(default=900.0, ge=0)  # staff told; retries go on
    dispatch_interval_seconds: float = Field(default=1.0, gt=0)
    dispatch_batch_size: int = Field(default=500, ge=1)
    max_in_flight: int = Field(default=5000, ge=1)  # most messages `queued` (on the broker) at once
    stuck_after_seconds: int = Field(default=300, ge=10)
    send_lease_seconds: float = Field(default=30.0, ge=0.3)  # a live worker renews it every 1/3
    # An ambiguous outcome (`uncertain`) waits this long for a status callback / SendGrid's
    # `processed` event before a worker asks the provider (docs/delivery.md).
    sms_settle_seconds: float = Field(default=10.0, ge=0)
    email_settle_seconds: float = Field(default=60.0, ge=0)
    send_concurrency: int = Field(default=16, ge=1)
    send_chunk_size: int = Field(default=50, ge=1, le=100)  # messages per task in a backlog
    # The HL7 v2 feed (engage hl7 listen; `engage run` starts it when hl7_enabled).
    hl7_enabled: bool = False
    hl7_host: str = "127.0.0.1"
    hl7_port: int = Field(default=2575, ge=0, le=65535)
    hl7_tls_cert: Path | None = None  # with hl7_tls_key: MLLP over TLS
    hl7_tls_key: Path | None = None
    hl7_tls_client_ca: Path | None = None  # require the interface engine's client certificate
    hl7_metrics_port: int = Field(default=9102, ge=0, le=65535)  # 0: no metrics endpoint
    hl7_workers: int = Field(default=4, ge=1, le=64)  # processes applying messages
    console_idle_minutes: int = Field(default=15, ge=1, le=720)  # screens show PHI
    console_session_hours: int = Field(default=12, ge=1, le=168)  # absolute, however active
    login_failures_per_account: int = Field(default=5, ge=1)  # per 15 minutes
    login_failures_per_source: int = Field(default=20, ge=1)  # per 15 minutes
    api_docs: bool = True  # false: no /docs, /redoc or /openapi.json (production may close them)
    sendgrid_webhook_tolerance_seconds: int = Field(default=600, ge=1)  # older events refused
    log_level: str = "INFO"
    log_json: bool = True

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: dict[str, object]) -> dict[str, object]:
        for name in _SECRET_FIELDS:
            env = f"ENGAGE_{name.upper()}_FILE"
            path = os.environ.get(env)
            if path:
                try:
                    data[name] = Path(path).read_text().strip()
                except OSError as exc:
                    raise ValueError(f"{env}={path}: cannot read: {exc.strerror}") from None
        return data

    @field_validator("hl7_tls_cert", "hl7_tls_key", "hl7_tls_client_ca", mode="before")
    @classmethod
    def _blank_path(cls, value: object) -> object:
        return None if value == "" else value  # compose passes unset variables as ""

    @property
    def provider_calls(self) -> int:
        """Provider calls one worker process may have out at once: every task's whole batch."""
        return min(256, self.send_concurrency * self.send_chunk_size)

    @property
    def sms_provider(self) -> str:
        return "twilio" if self.twilio_account_sid and self.twilio_auth_token else "file"

    @property
    def email_provider(self) -> str:
        return "sendgrid" if self.sendgrid_api_key else "file"


def load_settings() -> Settings:
    """Build Settings from the environment; raise ConfigError naming each bad variable,
    a missing, sample or short secret outside the embedded mode included."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = [
            f"ENGAGE_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("; ".join(problems)) from None
    if problems := secret_problems(settings):
        raise ConfigError("; ".join(problems))
    return embedded_secret(settings)
