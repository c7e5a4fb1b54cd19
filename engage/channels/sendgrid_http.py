"""The HTTP client the SendGrid SDK sends through: one keep-alive urllib3 pool per process.

`SendGridAPIClient.client` is a `python_http_client.Client`, and that library is built to be
subclassed: `_make_request` is the one place a request goes out ("separated into its own
function" so it can be replaced) and `_build_client` makes the child for each URL segment
(`client.mail.send`). Ours keeps the SDK's request building, headers and error classes and
changes only the wire: the default opens a new connection (TCP + TLS handshake) for every
message through `urllib.request`; a shared pool reuses them, as the Twilio path does.

The SDK's call method (what `client.mail.send.post` resolves to through `__getattr__`) also
builds a `urllib.request` opener for every request, which the pool never uses: every handler
instantiated and the whole environment read for proxies, about a third of an email's CPU when
profiled (bench/sendpath.py). Ours resolves the method names to `_call`, the same request
without the opener (and without the SDK's DEBUG lines, which hold payloads).
"""

from __future__ import annotations

import functools
import json
import urllib.request
from typing import Any

import urllib3
from python_http_client import Client
from python_http_client.client import Response
from python_http_client.exceptions import HTTPError, err_dict


class _Answer:
    """A urllib3 response in the shape `python_http_client.Response` reads (urllib's)."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response

    def getcode(self) -> int:
        return self._response.status

    def read(self) -> bytes:
        return self._response.data

    def info(self) -> Any:
        return self._response.headers


class PooledClient(Client):  # type: ignore[misc]  # the SDK ships no type hints
    """Thread-safe: every child client shares its parent's urllib3 pool."""

    def __init__(self, pool: urllib3.PoolManager, **options: Any) -> None:
        super().__init__(**options)
        self._pool = pool

    def _build_client(self, name: str | None = None) -> PooledClient:
        url_path = [*self._url_path, name] if name else self._url_path
        return PooledClient(
            self._pool,
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
        )

    def __getattr__(self, name: str) -> Any:
        if name in self.methods:  # the end of a call chain: `.post(request_body=...)`
            return functools.partial(self._call, name.upper())
        return super().__getattr__(name)  # a URL segment, or `version`

    def _call(
        self,
        method: str,
        request_body: Any = None,
        query_params: dict[str, Any] | None = None,
        request_headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Response:
        """The SDK's `http_request`, minus its opener: same headers, body and URL."""
        if request_headers:
            self._update_headers(request_headers)
        data = None
        if request_body is not None:
            kind = self.request_headers.get("Content-Type")
            if kind is not None and kind != "application/json":
                data = request_body.encode("utf-8")
            else:
                self.request_headers.setdefault("Content-Type", "application/json")
                data = json.dumps(request_body).encode("utf-8")
        request = urllib.request.Request(
            self._build_url(query_params), headers=self.request_headers, data=data, method=method
        )
        return Response(self._make_request(None, request, timeout=timeout))

    def _make_request(
        self, opener: object, request: urllib.request.Request, timeout: float | None = None
    ) -> _Answer:
        response = self._pool.request(
            request.get_method(),
            request.get_full_url(),
            body=request.data,  # type: ignore[arg-type]  # bytes: the SDK's JSON
            headers=dict(request.header_items()),
            timeout=urllib3.Timeout(total=timeout or self.timeout),
            redirect=False,
        )
        if response.status >= 400:
            # The SDK's own exception for the status, as its urllib path raises it.
            error = err_dict.get(response.status, HTTPError)
            raise error(response.status, response.reason, response.data, response.headers)
        return _Answer(response)


def pooled_client(host: str, timeout: float, connections: int) -> PooledClient:
    """The SDK's v3 client on a pool of up to `connections` kept-alive connections."""
    pool = urllib3.PoolManager(maxsize=connections, retries=False)
    return PooledClient(pool, host=host, version=3, timeout=timeout)
