"""The HTTP client the Twilio SDK sends through: urllib3 directly, aimed at any base URL.

`Client(http_client=...)` is the SDK's supported way to change transport. Ours does three
things its default (`TwilioHttpClient`, on requests) does not:
- aims the SDK at `base_url` (a fake or staging host); the SDK has no base-URL option;
- remembers the last response's Retry-After, which the SDK's TwilioRestException drops;
- costs a third of the CPU: requests re-reads the proxy variables and ~/.netrc and rebuilds
  its request objects on every call (profiled: most of a send's HTTP time), where urllib3
  keeps one pool per host and the proxy is resolved once, at start-up.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from twilio.http import HttpClient
from twilio.http.response import Response

TWILIO_API = "https://api.twilio.com"


class UrllibHttpClient(HttpClient):  # type: ignore[misc]  # the SDK ships no type hints
    """Thread-safe (one urllib3 pool shared by every send; Retry-After kept per thread)."""

    def __init__(self, base_url: str, timeout: float, connections: int) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self._base_url = base_url.rstrip("/")
        self._last = threading.local()
        target = self._base_url or TWILIO_API
        proxy = _environ_proxy(target)
        options: dict[str, Any] = {"maxsize": connections, "retries": False}
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base_url and uri.startswith(TWILIO_API):
            uri = self._base_url + uri[len(TWILIO_API) :]
        if params:
            uri += "?" + urlencode(params, doseq=True)
        sent = dict(headers or {})
        body: str | None = None
        if data is not None:
            if sent.get("Content-Type", "").endswith("json"):
                body = json.dumps(data)
            else:
                body = urlencode(data, doseq=True)
                sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent["Authorization"] = f"Basic {token}"
        self._last.retry_after = None
        response = self._pool.request(
            method.upper(),
            uri,
            body=body,
            headers=sent,
            timeout=urllib3.Timeout(total=timeout or self.timeout),
            redirect=allow_redirects,
        )
        self._last.retry_after = response.headers.get("Retry-After")
        return Response(response.status, response.data.decode("utf-8"), response.headers)

    @property
    def last_retry_after(self) -> str | None:
        return getattr(self._last, "retry_after", None)


def _environ_proxy(url: str) -> str | None:
    """The proxy the standard variables (HTTPS_PROXY, NO_PROXY...) name for `url`, if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)
