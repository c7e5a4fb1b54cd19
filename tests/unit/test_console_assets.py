"""The console's browser assets ship inside the package, each with its version and licence."""

from __future__ import annotations

from pathlib import Path

import engage

VENDOR = Path(engage.__file__).parent / "console" / "static" / "vendor"


def test_each_vendored_package_has_its_licence_and_is_listed_with_its_version() -> None:
    notes = (VENDOR / "README.md").read_text()
    for folder, package, version in (
        ("htmx", "htmx.org", "2.0.11"),
        ("swagger-ui", "swagger-ui-dist", "5.35.0"),
        ("redoc", "redoc", "2.5.4"),
        ("axe-core", "axe-core", "4.14.1"),
    ):
        assert (VENDOR / folder / "LICENSE").is_file(), folder
        assert f"| {folder}/ | {package} | {version} |" in notes


def test_htmx_is_version_2() -> None:
    assert 'version:"2.0.11"' in (VENDOR / "htmx" / "htmx.min.js").read_text()
