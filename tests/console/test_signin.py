"""Signing in: cookie flags, idle and absolute expiry, throttling, CSRF, roles."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from engage.store.audit import AuditLog
from tests.console_kit import Console, build_console


def test_an_unsigned_visitor_is_sent_to_sign_in(console: Console) -> None:
    answer = console.client.get("/console/patients", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/signin?next=%2Fconsole%2Fpatients")


def test_the_root_opens_the_console(console: Console) -> None:
    answer = console.client.get("/", follow_redirects=False)
    assert answer.headers["location"] == "/console/"


def test_signing_in_sets_an_httponly_lax_cookie_and_audits_it(console: Console) -> None:
    answer = console.sign_in("staff")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert console.client.get("/console/").status_code == 200
    with console.sessions() as session:
        actions = session.scalars(select(AuditLog.actor).where(AuditLog.action == "user.sign-in"))
        assert list(actions) == ["console:staff"]


def test_the_cookie_is_secure_behind_https_only(tmp_path) -> None:
    plain = build_console(
        f"sqlite:///{tmp_path / 'e.db'}", tmp_path, public_url="http://127.0.0.1:8000"
    )
    plain.client = TestClient(plain.app, base_url="http://testserver")
    assert "secure" not in plain.sign_in("staff").headers["set-cookie"].lower()
    https = build_console(f"sqlite:///{tmp_path / 'f.db'}", tmp_path, public_url="http://x")
    assert "secure" in https.sign_in("staff").headers["set-cookie"].lower()  # an https request


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(console: Console) -> None:
    answer = console.sign_in("staff", "not the password")
    assert answer.status_code == 401
    assert "Wrong username or password." in answer.text
    assert console.sign_in("nobody", "not the password").status_code == 401


def test_failed_sign_ins_are_throttled_per_account_even_with_the_right_password(
    console: Console,
) -> None:
    for _ in range(5):
        assert console.sign_in("staff", "guess guess guess").status_code == 401
    refused = console.sign_in("staff")
    assert refused.status_code == 401 and "Too many failed sign-ins" in refused.text
    assert console.sign_in("ops").status_code == 303  # another account is not locked
    console.clock.advance(minutes=16)
    assert console.sign_in("staff").status_code == 303


def test_failed_sign_ins_are_throttled_per_source(console: Console) -> None:
    for n in range(20):
        console.sign_in(f"someone{n}", "guess guess guess")
    assert "Too many failed sign-ins" in console.sign_in("admin").text


def test_a_session_ends_after_the_idle_timeout(staff: Console) -> None:
    staff.clock.advance(minutes=14)
    assert staff.client.get("/console/").status_code == 200  # activity restarts the clock
    staff.clock.advance(minutes=14)
    assert staff.client.get("/console/").status_code == 200
    staff.clock.advance(minutes=16)
    answer = staff.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303 and "expired=1" in answer.headers["location"]


def test_a_session_ends_at_its_absolute_lifetime_however_active(staff: Console) -> None:
    for _ in range(12 * 6):
        staff.clock.advance(minutes=10)
        staff.client.get("/console/")
    staff.clock.advance(minutes=10)
    assert staff.client.get("/console/", follow_redirects=False).status_code == 303


def test_a_form_without_its_csrf_token_is_refused(staff: Console) -> None:
    answer = staff.client.post("/console/signout", data={}, follow_redirects=False)
    assert answer.status_code == 403
    assert "This form has expired" in answer.text and "reload" in answer.text
    assert staff.client.get("/console/").status_code == 200  # still signed in


def test_signing_out_ends_the_session(staff: Console) -> None:
    assert staff.post("/console/signout").status_code == 303
    assert staff.client.get("/console/", follow_redirects=False).status_code == 303


def test_staff_cannot_open_operations_or_audit(staff: Console) -> None:
    for path in ("/console/operations", "/console/audit"):
        answer = staff.client.get(path)
        assert answer.status_code == 403, path
        assert "Ask an admin" in answer.text


def test_a_sign_in_never_redirects_off_the_console(console: Console) -> None:
    answer = console.client.post(
        "/console/signin",
        data={"username": "staff", "password": "correct horse battery", "next": "//evil.example"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/console/"


def test_docs_render_from_local_assets(console: Console) -> None:
    page = console.client.get("/docs").text
    assert "/console/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert (
        console.client.get("/console/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code
        == 200
    )
    redoc = console.client.get("/redoc").text
    assert (
        "/console/static/vendor/redoc/redoc.standalone.js" in redoc
        and "fonts.googleapis" not in redoc
    )
