"""Per-source throttling of failures: forged signatures and guessed unsubscribe tokens.

Only failures count (a 403 from a webhook or an unsubscribe link), so a provider whose requests
verify is never slowed, however many it sends: a valid STOP is always handled. A source that
failed `limit` times in `window` seconds gets 429 on that kind of route until the window
passes, before its body is read. The source is the client address uvicorn reports: behind a
proxy, run uvicorn with --proxy-headers and let the proxy set X-Forwarded-For itself
(docs/deploy.md), or every client is the proxy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

THROTTLED_PREFIXES = ("/webhooks/", "/unsubscribe/")
_MAX_SOURCES = 10_000  # bounded memory under a spread-out attack: the oldest sources go first


def route_kind(path: str) -> str | None:
    """Which failure counter a path belongs to, or None when it is never throttled here."""
    for prefix in THROTTLED_PREFIXES:
        if path.startswith(prefix):
            return prefix
    return None


class FailureThrottle:
    """Counts failures per (source, route kind) in a sliding window; thread-safe, in process."""

    def __init__(
        self, limit: int = 20, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def retry_after(self, source: str, kind: str) -> int:
        """Seconds until `source` may try `kind` again; 0 when it is not throttled."""
        now = self._clock()
        with self._lock:
            stamps = self._recent((source, kind), now)
            if len(stamps) < self.limit:
                return 0
            return max(1, int(stamps[0] + self.window - now) + 1)

    def failed(self, source: str, kind: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) >= _MAX_SOURCES:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault((source, kind), deque(maxlen=self.limit)).append(now)
