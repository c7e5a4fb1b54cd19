"""Builders shared by the API tests: an app on a migrated database, a token per role, and
requests signed exactly as Twilio (RequestValidator) and SendGrid (ECDSA P-256) sign them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from engage.api.app import create_app
from engage.runtime import Runtime
from engage.settings import Settings
from engage.store.migrate import upgrade
from engage.store.tokens import Role, create_token
from tests.delivery_kit import Clock

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "https://engage.example.org"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
SIGNING_SECRET = "test-signing-secret"
# 2027-03-10 16:00 UTC: a Wednesday, 08:00 in San Francisco (the clinic's zone).
NOW = datetime(2027, 3, 10, 16, 0, tzinfo=UTC)


def sendgrid_key_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER, no PEM armour)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_signature(private: ec.EllipticCurvePrivateKey, payload: bytes, timestamp: str) -> str:
    """What SendGrid puts in X-Twilio-Email-Event-Webhook-Signature: ECDSA over timestamp+body."""
    signed = private.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signed).decode()


def api_settings(db_url: str, tmp_path: Path, public_key: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "schedule_path": ROOT / "schedules.yaml",
        "templates_dir": ROOT / "templates",
        "public_url": PUBLIC_URL,
        "signing_secret": SIGNING_SECRET,
        "twilio_auth_token": TWILIO_TOKEN,
        "sendgrid_webhook_public_key": public_key,
        "outbox_dir": tmp_path / "outbox",
    }
    return Settings(**(values | overrides))


@dataclass
class Api:
    """The app as a client drives it, with a token of each role."""

    app: FastAPI
    client: TestClient
    sessions: sessionmaker[Session]
    clock: Clock
    tokens: dict[str, str]
    sendgrid_private: ec.EllipticCurvePrivateKey
    _numbers: list[int] = field(default_factory=lambda: [0])

    def headers(self, role: str | None = "staff") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def get(self, path: str, role: str | None = "staff", **kw: Any) -> Response:
        response: Response = self.client.get(path, headers=self.headers(role), **kw)
        return response

    def post(self, path: str, role: str | None = "staff", **kw: Any) -> Response:
        response: Response = self.client.post(path, headers=self.headers(role), **kw)
        return response

    def put(self, path: str, role: str | None = "staff", **kw: Any) -> Response:
        response: Response = self.client.put(path, headers=self.headers(role), **kw)
        return response

    def patch(self, path: str, role: str | None = "staff", **kw: Any) -> Response:
        response: Response = self.client.patch(path, headers=self.headers(role), **kw)
        return response

    # -- providers ------------------------------------------------------------------------

    def twilio(
        self, path: str, params: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> Response:
        """POST `params` to `path`, signed as Twilio signs it (over the public URL)."""
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, params)
        sent = {"X-Twilio-Signature": signature, **(headers or {})}
        response: Response = self.client.post(path, data=params, headers=sent)
        return response

    def sms_in(self, phone: str, body: str, sid: str | None = None) -> Response:
        self._numbers[0] += 1
        params = {
            "MessageSid": sid or f"SMin{self._numbers[0]:030d}",
            "From": phone,
            "To": "+14155550123",
            "Body": body,
        }
        return self.twilio("/webhooks/twilio/sms", params)

    def sendgrid(self, events: list[dict[str, Any]], *, signature: str | None = None) -> Response:
        payload = json.dumps(events).encode()
        timestamp = str(int(self.clock().timestamp()))  # the app's own clock judges its age
        signed = signature or sendgrid_signature(self.sendgrid_private, payload, timestamp)
        response: Response = self.client.post(
            "/webhooks/sendgrid/events",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": signed,
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            },
        )
        return response

    # -- staff shortcuts -----------------------------------------------------------------

    def patient(self, *, sms: bool = True, email: bool = True, **fields: Any) -> dict[str, Any]:
        """A patient created and given consent through the API, as staff would."""
        self._numbers[0] += 1
        n = self._numbers[0]
        body = {
            "first_name": "Ana",
            "last_name": f"Test{n}",
            "phone": f"+1415555{n % 10000:04d}",
            "email": f"ana{n}@example.org",
            "timezone": "America/Los_Angeles",
        } | fields
        created = self.post("/patients", json=body)
        assert created.status_code == 201, created.text
        patient: dict[str, Any] = created.json()
        for channel, granted in (("sms", sms), ("email", email)):
            if granted:
                answer = self.put(
                    f"/patients/{patient['id']}/consents/{channel}",
                    json={"granted": True, "source": "intake-form", "notice": "notice-v1"},
                )
                assert answer.status_code == 200, answer.text
        return patient

    def timeline(self, patient_id: int) -> list[dict[str, Any]]:
        answer = self.get(f"/patients/{patient_id}/timeline")
        assert answer.status_code == 200, answer.text
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages


def build_api(
    db_url: str,
    tmp_path: Path,
    *,
    clock: Clock | None = None,
    **overrides: Any,
) -> Api:
    upgrade(db_url)
    private, public = sendgrid_key_pair()
    settings = api_settings(db_url, tmp_path, public, **overrides)
    runtime = Runtime(settings)
    clock = clock or Clock(NOW)
    app = create_app(settings, runtime, clock=clock)
    tokens = {}
    with runtime.sessions.begin() as session:
        for role in Role:
            _, tokens[role.value] = create_token(
                session, name=f"test-{role.value}", role=role, actor="test"
            )
    client = TestClient(app, base_url="http://testserver")
    return Api(app, client, runtime.sessions, clock, tokens, private)
