"""Contract tier: the real SDKs, through our channels, against Prism serving the vendors' specs.

Twilio's spec comes from the npm package @twilio-alpha/mcp (tools/prism); SendGrid's from
../shared/provider-specs, which no registry ships. Where that folder is missing the tier skips and
says why; under CI=true it fails instead. A request passes when Prism answers 201/202 and its
`sl-violations` header lists no request-side problem.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from python_http_client.exceptions import BadRequestsError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail

from engage.channels.base import Attachment, Outgoing
from engage.channels.sendgrid import SendGridChannel
from engage.channels.twilio import TwilioChannel
from engage.settings import Settings
from tests.fakes.recording_proxy import Exchange, RecordingProxy
from tests.services import IN_CI

pytestmark = pytest.mark.prism

ROOT = Path(__file__).resolve().parents[2]
PRISM_DIR = ROOT / "tools" / "prism"
PRISM = PRISM_DIR / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = (
    PRISM_DIR / "node_modules/@twilio-alpha/mcp/twilio-oai/spec/json/twilio_api_v2010.json"
)
PROVIDER_SPECS = ROOT.parent / "shared" / "provider-specs"
SENDGRID_SPEC = PROVIDER_SPECS / "sendgrid" / "tsg_mail_v3.json"
ACCOUNT = "AC0123456789abcdef0123456789abcdef"


def unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"prism tier: {why} (CI=true: the contract tier must run)")
    pytest.skip(f"prism tier: {why}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, log: Path, deadline: float
) -> None:
    """Prism is ready once it answers anything (`GET /` is a 404 NO_PATH_MATCHED)."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prism exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"prism at {url} not ready in time")


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Prism on free loopback ports, one per vendor: {"twilio": url, "sendgrid": url}."""
    if not SENDGRID_SPEC.is_file():
        unavailable(f"{SENDGRID_SPEC} is missing (the vendors' specs folder, see its README)")
    if not PRISM.exists():
        if shutil.which("npm") is None:
            unavailable("npm is not installed (needed once: npm ci --prefix tools/prism)")
        npm = [
            "npm",
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(PRISM_DIR),
        ]
        subprocess.run(npm, check=True, capture_output=True, timeout=600)
    env = {**os.environ, "SCARF_ANALYTICS": "false"}  # no usage analytics call home
    specs = {"twilio": TWILIO_SPEC, "sendgrid": SENDGRID_SPEC}
    logs = tmp_path_factory.mktemp("prism")
    urls, processes = {}, []
    try:
        for vendor, spec in specs.items():  # both start at once: about 2 s, not 4
            port, log = free_port(), logs / f"{vendor}.log"
            command = [str(PRISM), "mock", str(spec), "-h", "127.0.0.1", "-p", str(port)]
            with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall Prism
                process = subprocess.Popen(
                    [*command, "-v", "warn"], env=env, stdout=out, stderr=out
                )
            processes.append((process, f"http://127.0.0.1:{port}", log))
            urls[vendor] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # generous for a loaded CI machine
        for process, url, log in processes:
            wait_until_ready(process, url, log, deadline)
        yield urls
    finally:
        for process, _, _ in processes:
            process.terminate()
        for process, _, _ in processes:
            process.wait(timeout=10)


def request_violations(exchange: Exchange) -> list[dict[str, object]]:
    found = json.loads(exchange.headers.get("sl-violations", "[]"))
    return [v for v in found if v["location"][0] != "response"]


def settings_for(twilio_url: str = "", sendgrid_url: str = "", **overrides: str) -> Settings:
    values: dict[str, Any] = {
        "twilio_account_sid": ACCOUNT,
        "twilio_auth_token": "token",
        "twilio_from": "+15017122661",
        "twilio_base_url": twilio_url,
        "sendgrid_api_key": "SG.contract",
        "sendgrid_from": "clinic@example.org",
        "sendgrid_base_url": sendgrid_url,
        "public_url": "https://engage.clinic.example",
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
def twilio_proxy(prism):
    with RecordingProxy(prism["twilio"]) as proxy:
        yield proxy


@pytest.fixture
def sendgrid_proxy(prism):
    with RecordingProxy(prism["sendgrid"]) as proxy:
        yield proxy


SMS = Outgoing(61, "sms", "+15558675310", "Reminder: infusion tomorrow 09:00. Reply C to confirm.")
EMAIL = Outgoing(
    62,
    "email",
    "patient@example.com",
    "Your infusion is tomorrow at 09:00.",
    subject="Tomorrow's visit",
    html="<p>Your infusion is <b>tomorrow</b> at 09:00.</p>",
    attachments=(
        Attachment("visit.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
    ),
    unsubscribe_url="https://engage.clinic.example/unsubscribe/t0ken",
)


def test_twilio_message_create_from_a_number_conforms_to_twilio_spec(twilio_proxy):
    receipt = TwilioChannel(settings_for(twilio_proxy.url)).send(SMS)
    [exchange] = twilio_proxy.exchanges
    assert exchange.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert (exchange.status, request_violations(exchange)) == (201, [])
    assert receipt.provider_id.startswith("SM")


def test_twilio_message_create_via_a_messaging_service_conforms(twilio_proxy):
    settings = settings_for(
        twilio_proxy.url, twilio_from="", twilio_messaging_service_sid="MG" + "0123456789abcdef" * 2
    )
    TwilioChannel(settings).send(SMS)
    [exchange] = twilio_proxy.exchanges
    assert (exchange.status, request_violations(exchange)) == (201, [])


def test_sendgrid_mail_send_with_every_part_we_use_conforms(sendgrid_proxy):
    """HTML + text, attachment, List-Unsubscribe headers, our id as a personalization arg."""
    SendGridChannel(settings_for(sendgrid_url=sendgrid_proxy.url)).send(EMAIL)
    [exchange] = sendgrid_proxy.exchanges
    assert exchange.path == "/v3/mail/send"
    assert (exchange.status, request_violations(exchange)) == (202, [])


def test_sendgrid_plain_text_mail_without_unsubscribe_conforms(sendgrid_proxy):
    message = Outgoing(63, "email", "patient@example.com", "Plain only", subject="Hello")
    SendGridChannel(settings_for(sendgrid_url=sendgrid_proxy.url)).send(message)
    [exchange] = sendgrid_proxy.exchanges
    assert (exchange.status, request_violations(exchange)) == (202, [])


def test_the_spec_rejects_top_level_custom_args_which_is_why_ours_go_per_personalization(
    sendgrid_proxy,
):
    """The checker's negative control: the SDK's default spot for custom args fails the spec."""
    mail = Mail("clinic@example.org", "patient@example.com", "s", plain_text_content="v")
    mail.add_custom_arg(CustomArg("engage_message_id", "64"))  # top level: typed string in the spec
    with pytest.raises(BadRequestsError):
        SendGridAPIClient("SG.contract", host=sendgrid_proxy.url).send(mail)
    [exchange] = sendgrid_proxy.exchanges
    assert exchange.status == 400
    assert [v["location"] for v in request_violations(exchange)] == [
        ["request", "body", "custom_args"]
    ]


def test_twilio_messages_list_used_to_settle_an_uncertain_send_conforms(twilio_proxy):
    """The look-up behind an `uncertain` outcome: GET Messages.json filtered by To."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    TwilioChannel(settings_for(twilio_proxy.url)).find(SMS, now - timedelta(minutes=1), now)
    first, *pages = twilio_proxy.exchanges  # Prism's example may name a next page: followed
    assert first.method == "GET"
    assert first.path.startswith(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?")
    assert "To=%2B15558675310" in first.path
    for exchange in (first, *pages):
        assert (exchange.status, request_violations(exchange)) == (200, [])
