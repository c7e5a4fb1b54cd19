"""The Twilio transport resolves its proxy once, from the standard variables."""

from __future__ import annotations

import pytest

from engage.channels.twilio_http import UrllibHttpClient, _environ_proxy


def test_https_proxy_is_used_for_twilio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.clinic.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert _environ_proxy("https://api.twilio.com") == "http://proxy.clinic.internal:3128"
    client = UrllibHttpClient("", 5.0, 4)
    assert client._pool.proxy is not None and client._pool.proxy.host == "proxy.clinic.internal"


def test_no_proxy_exempts_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.clinic.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.twilio.com,localhost")
    assert _environ_proxy("https://api.twilio.com") is None


def test_without_proxy_variables_the_pool_connects_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert _environ_proxy("http://127.0.0.1:4010") is None
    assert getattr(UrllibHttpClient("http://127.0.0.1:4010", 5.0, 4)._pool, "proxy", None) is None
