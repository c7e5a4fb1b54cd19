"""A database the command cannot use, said in one line instead of a driver traceback.

An operator running `engage status` during an outage got fifty lines of psycopg and SQLAlchemy
frames; what they need is which database, what the driver said, and what to check.
"""

from __future__ import annotations

import sys


def database_problem(exc: BaseException) -> str | None:
    """The line to print when `exc` is the database refusing or failing; else None."""
    if "sqlalchemy" not in sys.modules:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    if not isinstance(exc, OperationalError):
        return None
    from engage.settings import load_settings

    try:
        url = make_url(load_settings().database_url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        url = "ENGAGE_DATABASE_URL"
    said = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return (
        f"the database {url} could not be used: {said}. "
        "Check that it is running and reachable, and migrated (engage db upgrade)."
    )
