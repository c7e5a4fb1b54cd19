"""The headers every response carries: no framing, no sniffing, no referrer, no caching of PHI.

The console's pages load their scripts and styles from /console/static (htmx included), so the
policy allows only 'self' for scripts. Inline styles stay allowed (htmx injects its indicator
style; the pages set a few style attributes); style cannot run code. /docs and /redoc are
FastAPI's pages, which start Swagger UI and ReDoc with an inline script (and ReDoc a blob
worker): only those two paths get that allowance.
"""

from __future__ import annotations

STATIC_PREFIXES = ("/console/static/",)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_BASE = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CSP = f"{_BASE}; script-src 'self'"
DOCS_CSP = f"{_BASE}; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(path: str, *, https: bool) -> list[tuple[bytes, bytes]]:
    """The headers to add to a response to `path` (those the app set itself are kept)."""
    headers = [
        (b"content-security-policy", (DOCS_CSP if path in DOCS_PATHS else CSP).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        # Unsubscribe links carry their token in the path: never hand it to another site.
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if not path.startswith(STATIC_PREFIXES):
        # Any answer may name a patient (lists, timelines, errors echoing a field): no copies.
        headers.append((b"cache-control", b"no-store"))
    if https:
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


def merged(
    existing: list[tuple[bytes, bytes]], path: str, *, https: bool
) -> list[tuple[bytes, bytes]]:
    """`existing` plus every security header it does not already set."""
    present = {name.lower() for name, _ in existing}
    return [*existing, *(h for h in security_headers(path, https=https) if h[0] not in present)]
