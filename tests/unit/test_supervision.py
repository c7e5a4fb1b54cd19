"""Workers and dispatchers are restarted whatever ended them: compose and systemd both say so."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("service", ["worker", "dispatcher"])
def test_compose_restarts_the_service_whatever_its_exit_status(service: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"][service]["restart"] in ("always", "unless-stopped")


@pytest.mark.parametrize("service", ["worker", "dispatcher"])
def test_the_documented_systemd_unit_restarts_always(service: str) -> None:
    unit = configparser.ConfigParser(interpolation=None)
    unit.read(ROOT / "deploy" / "systemd" / f"engage-{service}.service")
    assert unit["Service"]["Restart"] == "always"
    assert unit["Service"]["ExecStart"].endswith(f"engage {service}")
    assert f"deploy/systemd/engage-{service}.service" in (ROOT / "docs" / "deploy.md").read_text()
