"""The browser tier: the real server (uvicorn through `engage api`) driven by headless Chromium.

Playwright for Python drives Debian's /usr/bin/chromium (Playwright's own browser download does
not work on these machines). Locally the tier is skipped, saying why, when there is no Chromium;
under CI=true it must run (.ci/run installs the package).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.hl7_kit import free_port, wait_for_port
from tests.processes import ROOT, processes
from tests.services import CHROMIUM, IN_CI

SHOTS = ROOT / "build" / "screenshots"
TWILIO_TOKEN = "browser-tier-twilio-token"
PASSWORD = "correct horse battery"


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    why = f"browser tier: no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    if IN_CI:
        pytest.fail(f"{why} (CI=true: the browser tier must run)")
    pytest.skip(why)


@dataclass
class Server:
    url: str
    db_url: str
    env: dict[str, str]

    def sessions(self) -> Any:
        from engage.store.db import make_engine, session_factory

        return session_factory(make_engine(self.db_url))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A migrated SQLite database with a user per role, and `engage api` serving it."""
    chromium_or_skip()
    folder = tmp_path_factory.mktemp("browser")
    db_url = f"sqlite:///{folder / 'engage.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "ENGAGE_DATABASE_URL": db_url,
        "ENGAGE_SCHEDULE_PATH": str(ROOT / "schedules.yaml"),
        "ENGAGE_TEMPLATES_DIR": str(ROOT / "templates"),
        "ENGAGE_PUBLIC_URL": url,
        "ENGAGE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "ENGAGE_OUTBOX_DIR": str(folder / "outbox"),
        "ENGAGE_LOG_JSON": "false",
    }
    from engage.accounts.users import create_user
    from engage.store.db import make_engine, session_factory
    from engage.store.migrate import upgrade
    from engage.store.tokens import Role

    upgrade(db_url)
    with session_factory(make_engine(db_url)).begin() as session:
        for role, name in (
            (Role.STAFF, "Maria Lopez"),
            (Role.OPS, "Sam Okafor"),
            (Role.ADMIN, "Dr. Chen"),
        ):
            create_user(
                session,
                username=role.value,
                password=PASSWORD,
                role=role,
                actor="test",
                display_name=name,
            )
    with processes(env, folder) as group:
        group.start("api", "api", "--host", "127.0.0.1", "--port", str(port))
        wait_for_port(port, timeout=60)
        yield Server(url, db_url, env)


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_or_skip(), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def sign_in(page: Any, username: str = "staff") -> None:
    page.goto("/console/signin")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/operations" if username == "ops" else "**/console/")


def shoot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, timeout=60_000)  # a loaded CI machine is slow
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (WCAG 2 A/AA rules)."""
    # Loaded from engage's own origin: the console's CSP (script-src 'self') refuses inline scripts,
    # and the test must see the page under the policy patients' browsers enforce.
    origin = "/".join(page.url.split("/")[:3])
    page.add_script_tag(url=f"{origin}/console/static/vendor/axe-core/axe.min.js")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def unreachable_by_keyboard(page: Any, limit: int = 800) -> list[str]:
    """Visible links, buttons and fields that Tab never reaches (from the top of the page)."""
    wanted = page.evaluate(
        """() => {
          const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')];
          all.forEach((el, i) => el.setAttribute('data-kbd', String(i)));
          // A radio group is one Tab stop (arrows move within it): its checked radio stands for it.
          const groupStop = el => el.type !== 'radio' || el.checked ||
            !el.form.querySelector(`input[type=radio][name="${el.name}"]:checked`);
          return all.filter(el => el.offsetParent !== null && !el.disabled && groupStop(el))
            .map(el => el.getAttribute('data-kbd'));
        }"""
    )
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    seen: set[str] = set()
    # A datetime-local input takes a Tab stop per part (month, day, year, hour, minute, AM/PM).
    for _ in range(min(limit, len(wanted) * 6 + 20)):
        page.keyboard.press("Tab")
        mark = page.evaluate(
            "() => document.activeElement && document.activeElement.getAttribute('data-kbd')"
        )
        if mark:
            seen.add(mark)
        if seen >= set(wanted):
            break
    missing = [m for m in wanted if m not in seen]
    return page.evaluate(
        "(marks) => marks.map(m => document.querySelector(`[data-kbd='${m}']`).outerHTML.slice(0, 80))",
        missing,
    )


def check_page(page: Any, name: str) -> None:
    """Every page: screenshot, no serious/critical axe violation, every control reachable by Tab."""
    page.wait_for_load_state("load")
    shoot(page, name)
    assert axe_violations(page) == [], name
    assert unreachable_by_keyboard(page) == [], name


def utc(days: float = 0, hours: float = 0) -> datetime:
    return datetime.now(UTC) + timedelta(days=days, hours=hours)
