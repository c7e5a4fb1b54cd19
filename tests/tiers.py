"""Print which test tiers will run here and which will be skipped, and why (run by `make test`)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.services import ALL, CHROMIUM, IN_CI


def main() -> int:
    missing = []
    for service in ALL:
        host, port = service.address
        if service.reachable():
            print(f"tier {service.marker:<9} runs: {service.name} at {host}:{port}")
        else:
            missing.append(service)
            print(f"tier {service.marker:<9} SKIPPED: no {service.name} at {host}:{port}")
    chromium = Path(CHROMIUM).exists()
    if chromium:
        print(f"tier browser   runs: Chromium at {CHROMIUM}")
    else:
        print(f"tier browser   SKIPPED: no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    if (missing or not chromium) and IN_CI:
        print("CI=true: every integration tier must run; start the servers above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
