"""Our fake provider, like a real one, never counts a request its client died in the middle of."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.fakes.provider_server import ProviderServer

PATH = "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"


def test_a_request_cut_off_mid_body_is_not_recorded() -> None:
    with ProviderServer() as fake:
        address = urlsplit(fake.url)
        with socket.create_connection((address.hostname, address.port)) as conn:
            conn.sendall(
                f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\nTo=%2B1".encode()
            )
        # A whole request afterwards is recorded as usual.
        body = b"To=%2B14155550100&Body=hi"
        with socket.create_connection((address.hostname, address.port)) as conn:
            conn.sendall(
                f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n\r\n".encode()
                + body
            )
            assert conn.recv(4096).startswith(b"HTTP/1.1 201")
        assert [r.form()["To"] for r in fake.requests] == ["+14155550100"]
