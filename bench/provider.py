"""The fake Twilio/SendGrid server as a process, plus the arrival time of every send.

tests/fakes/provider_server records requests but not when they came; the rate-cap check needs
wire times. This wraps it and appends `<unix time> <message id>` per provider request to a file.
Run: python -m bench.provider --latency-ms 50 --times FILE   (prints "listening on URL")
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.fakes.provider_server import SENDGRID, TWILIO, ProviderServer, Recorded, Reply


class TimedProviderServer(ProviderServer):
    """The fake provider, writing one line per request as it arrives."""

    def __init__(self, times: IO[str], **kwargs: float | str | int) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._times = times
        self._times_lock = threading.Lock()

    def answer(self, recorded: Recorded, match: re.Match[str] | None) -> Reply:
        now = time.time()
        message_id = _message_id(recorded)
        with self._times_lock:
            self._times.write(f"{now:.6f} {message_id} {recorded.route}\n")
        return super().answer(recorded, match)


def _message_id(recorded: Recorded) -> int:
    """Our message id: from the status-callback URL of an SMS, the custom arg of an email."""
    if recorded.route == SENDGRID:
        args = json.loads(recorded.body)["personalizations"][0].get("custom_args", {})
        return int(args.get("engage_message_id", -1))
    if recorded.route != TWILIO:
        return -1
    return int(recorded.form().get("StatusCallback", "/-1").rsplit("/", 1)[1])


@dataclass(frozen=True)
class WireRecord:
    times: list[float]  # sorted arrival times
    ids: list[int]  # message ids, in arrival order
    routes: list[str]  # the provider each request went to (twilio, sendgrid), same order


def read_times(path: Path) -> WireRecord:
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rows.append((float(parts[0]), int(parts[1]), parts[2] if len(parts) > 2 else TWILIO))
    rows.sort()
    return WireRecord([t for t, _, _ in rows], [i for _, i, _ in rows], [r for _, _, r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description="fake provider with per-request times")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--times", type=Path, required=True)
    args = parser.parse_args()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with (
        args.times.open("w", buffering=1) as times,
        TimedProviderServer(times, latency_ms=args.latency_ms) as fake,
    ):
        print(f"listening on {fake.url}", flush=True)
        done.wait()


if __name__ == "__main__":
    main()
