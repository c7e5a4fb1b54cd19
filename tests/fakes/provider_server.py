"""A fake Twilio + SendGrid HTTP server: enough of each API for the real SDKs, scriptable per test.

It answers `POST /2010-04-01/Accounts/{sid}/Messages.json` (201 + a message resource),
`GET` of the same path (the Messages list, `To` filter, newest first, over every message it
created) and `POST /v3/mail/send` (202 + X-Message-Id), records every request, and can be told
what to answer next: a 429 with Retry-After, a 500 storm, a reply slower than the client's
timeout, a vendor error, or `reset()`: accept the message, then reset the connection unanswered.

In a test:   with ProviderServer() as fake: fake.script(TWILIO, twilio_error(400, 21211)); ...
As a process (benchmarks, multi-process tests):
    python -m tests.fakes.provider_server --port 0 --latency-ms 50   # prints "listening on URL"
and drive it over HTTP: GET/DELETE /_fake/requests, POST /_fake/script {"route", "replies"}
(each reply `{"status", "body", "headers", "delay"}`; status 0 is a late success, a hang).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import struct
import threading
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qs

TWILIO = "twilio"
TWILIO_LIST = "twilio-list"  # GET Messages.json: recorded apart, so sends are counted alone
SENDGRID = "sendgrid"
RESET = -1  # a Reply status: accepted, then the connection reset before any answer
_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")
_SENDGRID_PATH = "/v3/mail/send"


@dataclass(frozen=True)
class Recorded:
    """One request as the provider saw it."""

    route: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """Twilio's url-encoded body, one value per field."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Reply:
    """What to answer; `delay` seconds first (longer than the client's timeout: a hang)."""

    status: int
    body: Any = b""  # bytes, str, or a JSON-able value
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def twilio_error(status: int, code: int, message: str = "", **headers: str) -> Reply:
    """The JSON error body Twilio sends, which its SDK parses into TwilioRestException."""
    body = {
        "code": code,
        "message": message or f"error {code}",
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Reply(status, body, {"Content-Type": "application/json", **_dashed(headers)})


def sendgrid_error(status: int, message: str = "", **headers: str) -> Reply:
    body = {"errors": [{"message": message or f"error {status}", "field": None, "help": None}]}
    return Reply(status, body, {"Content-Type": "application/json", **_dashed(headers)})


def reset() -> Reply:
    """Accept the message (it is created, and listed), then reset the connection unanswered."""
    return Reply(RESET)


def hang(seconds: float) -> Reply:
    """Answer success, but only after `seconds`: longer than the client timeout means a timeout."""
    return Reply(0, delay=seconds)


def _dashed(headers: dict[str, str]) -> dict[str, str]:
    """`Retry_After="3"` keyword arguments to `Retry-After: 3` headers."""
    return {name.replace("_", "-"): value for name, value in headers.items()}


class _Server(ThreadingHTTPServer):
    """Keeps its client connections, so that stop() is an outage for kept-alive ones too."""

    daemon_threads = True  # a handler still sleeping in a hang never blocks stop()
    request_queue_size = 128  # many worker processes connect at once in benchmarks

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Reset every client connection: a handler serving one finds it gone."""
        with self._open_lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class ProviderServer:
    """The server, its records and its script; threads share it under one lock."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        remembering: ProviderServer | None = None,
    ) -> None:
        """`remembering`: the fake this one replaces after an outage. Twilio keeps the messages
        it accepted while it was unreachable, so its Messages list still shows them."""
        self.latency = latency_ms / 1000
        self._lock = threading.Lock()
        self._records: list[Recorded] = []
        self._scripts: dict[str, deque[Reply]] = {TWILIO: deque(), SENDGRID: deque()}
        # Twilio message resources, oldest first; by the id() of the request that made each.
        self._created: list[dict[str, Any]] = []
        self._created_by: dict[int, dict[str, Any]] = {}
        if remembering is not None:
            with remembering._lock:
                self._created = list(remembering._created)
        self._stopping = threading.Event()
        self._httpd = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ProviderServer:
        # A short poll keeps stop() quick (shutdown waits for the loop's next poll).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down like a crashed provider: no new connection, kept-alive ones reset, and a
        request not yet answered is not counted (it was never accepted)."""
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.drop_connections()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def forget(self, recorded: Recorded) -> None:
        """A request the provider went down before answering: it never took it."""
        with self._lock, contextlib.suppress(ValueError):
            self._records.remove(recorded)
            created = self._created_by.pop(id(recorded), None)
            if created is not None:
                self._created.remove(created)

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, route: str, *replies: Reply) -> None:
        """Answer the next requests to `route` with `replies`, in order; then succeed again."""
        with self._lock:
            self._scripts[route].extend(replies)

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._records)

    def requests_to(self, route: str) -> list[Recorded]:
        return [r for r in self.requests if r.route == route]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            for queue in self._scripts.values():
                queue.clear()
            self._created.clear()
            self._created_by.clear()

    def answer(self, recorded: Recorded, match: re.Match[str] | None) -> Reply:
        """Record the request and pick its reply: the script's next one, else success."""
        with self._lock:
            self._records.append(recorded)
            queue = self._scripts[recorded.route]
            scripted = queue.popleft() if queue else None
        if scripted is not None and scripted.status not in (0, RESET):
            return scripted
        success = _twilio_created(recorded, match) if recorded.route == TWILIO else _sendgrid_ok()
        if recorded.route == TWILIO:
            with self._lock:
                self._created.append(success.body)
                self._created_by[id(recorded)] = success.body
        if scripted is not None:  # a hang(): success, late; a reset(): accepted, unanswered
            status = RESET if scripted.status == RESET else success.status
            return Reply(status, success.body, success.headers, scripted.delay)
        return success

    def listed(self, recorded: Recorded, to: str | None) -> Reply:
        """Twilio's Messages list: those sent to `to` (every one without it), newest first."""
        with self._lock:
            self._records.append(recorded)
            found = [m for m in reversed(self._created) if to is None or m["to"] == to]
        uri = recorded.path
        page = {
            "messages": found,
            "end": max(0, len(found) - 1),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": 50,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
        return Reply(200, page, {"Content-Type": "application/json"})

    def pause(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _twilio_created(recorded: Recorded, match: re.Match[str] | None) -> Reply:
    form = recorded.form()
    account = match.group("sid") if match else ""
    sid = "SM" + uuid.uuid4().hex
    body = {
        "sid": sid,
        "account_sid": account,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "from": form.get("From"),
        "to": form.get("To"),
        "body": form.get("Body"),
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "num_media": "0",
        "api_version": "2010-04-01",
        "date_created": formatdate(usegmt=True),
        "date_updated": formatdate(usegmt=True),
        "date_sent": None,
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json"},
    }
    return Reply(201, body, {"Content-Type": "application/json"})


def _sendgrid_ok() -> Reply:
    return Reply(202, b"", {"X-Message-Id": uuid.uuid4().hex[:22]})


def _route_of(path: str) -> tuple[str, re.Match[str] | None]:
    """Which provider `path` belongs to ("" for neither), with Twilio's account match."""
    match = _TWILIO_PATH.match(path)
    return (TWILIO if match else SENDGRID if path == _SENDGRID_PATH else ""), match


def _whole_body(stream: BufferedIOBase, length: int) -> bytes | None:
    """The request body, or None when the connection closed before all of it arrived."""
    body = stream.read(length) if length else b""
    return body if len(body) == length else None


class _Handler(BaseHTTPRequestHandler):
    """The fake's HTTP face; `fake` is set on the subclass `_handler_for` makes."""

    fake: ProviderServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' pools expect
    # Headers and body leave in separate writes; without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every reply and the "provider" looks slow.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read records
        pass

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:  # the client died mid-request: a real provider never sees it
            self.close_connection = True
            return
        if self.path == "/_fake/script":
            spec = json.loads(body)
            self.fake.script(spec["route"], *(Reply(**r) for r in spec["replies"]))
            return self._send(Reply(204))
        route, match = _route_of(self.path)
        if not route:
            return self._send(Reply(404, {"message": f"no route {self.path}"}))
        recorded = Recorded(route, "POST", self.path, dict(self.headers.items()), body)
        reply = self.fake.answer(recorded, match)
        self.fake.pause(self.fake.latency + reply.delay)
        if self.fake.stopped:  # went down before answering: never accepted, never answered
            self.fake.forget(recorded)
            self.close_connection = True
            return
        if reply.status == RESET:
            return self._reset()
        self._send(reply)

    def _reset(self) -> None:
        """Close with an RST (linger 0) and no answer: the client cannot know it was accepted."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if _TWILIO_PATH.match(path):
            recorded = Recorded(TWILIO_LIST, "GET", self.path, dict(self.headers.items()), b"")
            to = parse_qs(query).get("To", [None])[0]
            return self._send(self.fake.listed(recorded, to))
        if self.path != "/_fake/requests":
            return self._send(Reply(404, {"message": f"no route {self.path}"}))
        records = [
            {**asdict(r), "body": r.body.decode(errors="replace")} for r in self.fake.requests
        ]
        self._send(Reply(200, records, {"Content-Type": "application/json"}))

    def do_DELETE(self) -> None:
        self.fake.clear()
        self._send(Reply(204))

    def _read_body(self) -> bytes | None:
        return _whole_body(self.rfile, int(self.headers.get("Content-Length") or 0))

    def _send(self, reply: Reply) -> None:
        _write_reply(self, reply)


def _handler_for(fake: ProviderServer) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"fake": fake})


def _write_reply(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    payload = reply.payload()
    try:
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except OSError:  # the client gave up (its timeout) and closed the socket
        handler.close_connection = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before every reply")
    args = parser.parse_args(argv)
    fake = ProviderServer(args.host, args.port, args.latency_ms)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with fake:
        print(f"listening on {fake.url}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
