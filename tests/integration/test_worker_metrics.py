"""Worker processes serve their own metrics: on a port each, or summed across children."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from engage.ops import metrics


def test_a_worker_serves_its_metrics_on_its_own_port() -> None:
    metrics.count_retry("unit-e")
    server = metrics.start_worker_metrics_server(0, "127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'engage_retries_total{provider="unit-e"} 1.0' in text


MULTIPROCESS_WORKER = """
import multiprocessing, sys
from engage.ops import metrics
metrics.reset_multiproc_dir()

def child():
    metrics.count_retry("mp")
    metrics.observe_send("mp", 0.1, 2.0)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    for _ in range(3):
        p = ctx.Process(target=child)
        p.start()
        p.join()
        metrics.mark_process_dead(p.pid)
    sys.stdout.write(metrics.exposition(metrics.scrape_registry())[0].decode())
"""


def test_worker_children_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    (tmp_path / "prom").mkdir()
    (tmp_path / "prom" / "counter_999.db").write_bytes(b"stale run")
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_WORKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert 'engage_retries_total{provider="mp"} 3.0' in done.stdout
    assert 'engage_send_lateness_seconds_count{provider="mp"} 3.0' in done.stdout
