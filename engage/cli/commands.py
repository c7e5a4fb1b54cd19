"""The explicit list of sub-command modules; importing each adds its commands to `app`."""

from __future__ import annotations

from engage.cli import (  # noqa: F401
    api,
    db,
    demo,
    enroll,
    failed,
    hl7,
    patients,
    run,
    serve,
    simulate,
    status,
    tokens,
    validate,
)
