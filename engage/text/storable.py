"""Text engage can store: no NUL (PostgreSQL refuses it) and no lone surrogate (not Unicode).

Checked at every edge that takes text (HTTP in engage.api.text_input, CSV rows in
engage.patients.rows), so the database never meets it after half the work is done.
"""

from __future__ import annotations


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    return None
