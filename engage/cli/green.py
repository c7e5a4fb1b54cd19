"""`engage worker --pool gevent`: find the pool in argv and monkey-patch before any import."""

from __future__ import annotations

import contextlib

GREEN_POOLS = ("gevent", "eventlet")


def requested_pool(argv: list[str]) -> str:
    """The `--pool` of an `engage worker` command line, however click lets it be spelled; or ""."""
    args = argv[2:] if argv[1:2] == ["worker"] else []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("--pool", "-P"):
            return args[i + 1] if i + 1 < len(args) else ""
        if arg.startswith("--pool="):
            return arg.removeprefix("--pool=")
        if arg.startswith("-P"):
            return arg.removeprefix("-P")
    return ""


def patch_for_green_pool(argv: list[str]) -> None:
    """Monkey-patch for a gevent/eventlet worker before anything imports sockets or threads.

    Patched later, redis, psycopg (it picks its wait function at import) and the HTTP clients
    would block the whole process on every call, so the greenlets would send one at a time.
    Celery's own `celery` command does the same in celery/__main__.py.
    """
    pool = requested_pool(argv)
    if pool in GREEN_POOLS:
        from celery import maybe_patch_concurrency  # imports nothing that needs patching

        with contextlib.suppress(ImportError):  # not installed: `engage worker` says so
            maybe_patch_concurrency(["--pool", pool])
