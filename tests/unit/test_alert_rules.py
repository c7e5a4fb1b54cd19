"""The alert rules fire when they should (promtool's unit tests), every Grafana query is valid
PromQL (promtool parses each one), and every engage metric they name exists in the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.services import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "engage.json"
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        why = "no promtool (Debian: apt-get install prometheus)"
        if IN_CI:
            pytest.fail(f"{why}; CI=true: the alert tests must run")
        pytest.skip(why)
    return found


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def alert_exprs() -> list[str]:
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("tests", ["alerts.test.yml", "hl7-alerts.test.yml"])
def test_promtool_unit_tests_of_the_alert_rules_pass(tests: str) -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", tests], cwd=DEPLOY, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_dashboard_query_parses_as_promql(tmp_path: Path) -> None:
    # promtool parses a recording rule's expression fully: one rule per dashboard query.
    exprs = dashboard_exprs()
    rules = [{"record": f"dashboard:query_{n}", "expr": e} for n, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def _defined_metrics() -> set[str]:
    names: set[str] = set()
    for source in (ROOT / "engage").rglob("*.py"):
        names |= set(re.findall(r'"(engage_[a-z0-9_]+)"', source.read_text()))
    return names


def _used_metrics(exprs: list[str]) -> set[str]:
    used = set()
    for name in re.findall(r"\bengage_[a-z0-9_]+", " ".join(exprs)):
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        used.add(name)
    return used


def test_every_metric_the_alerts_and_dashboard_use_is_exported_by_engage() -> None:
    missing = _used_metrics(alert_exprs() + dashboard_exprs()) - _defined_metrics()
    assert not missing, f"not defined in engage/: {sorted(missing)}"


def test_every_alert_has_a_runbook_section_in_operations_md() -> None:
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    operations = (ROOT / "docs" / "operations.md").read_text()
    for rule in (r for group in doc["groups"] for r in group["rules"]):
        assert f"#### {rule['alert']}\n" in operations, rule["alert"]
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
