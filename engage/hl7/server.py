"""The MLLP listener: python-hl7's asyncio streams, any number of connections, optional TLS.

Each connection reads one MLLP block at a time and answers it before reading the next (MLLP's
own flow control: a sender waits for the ACK). Applying runs in a pool of worker processes
(engage.hl7.workers), so connections proceed in parallel on every core while the event loop
only moves bytes. A database that fails mid-message, or a worker process that dies, leaves the
message unanswered and closes the connection: the sender resends it later. A broken pool (a
worker killed) is replaced before the next message.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from engage.hl7 import ack, metrics
from engage.hl7.intake import Reply
from engage.logs import get_logger

log = get_logger("engage.hl7")
MAX_MESSAGE_BYTES = 1 << 20  # a scheduling message is a few kB; anything near this is not one


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """Server TLS; with `client_ca`, the interface engine must present a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class Listener:
    """Serves host:port until `stop` is set: `handle` (a block in, its reply out) runs on the
    executor `make_pool` builds (engage.hl7.workers' processes)."""

    def __init__(
        self,
        handle: Callable[[bytes], Reply],
        make_pool: Callable[[], Executor],
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.handle, self.make_pool = handle, make_pool
        self.host, self.port, self.tls = host, port, tls
        self.pool = make_pool()
        self.connections = 0

    async def serve(self, stop: asyncio.Event) -> None:
        server = await start_hl7_server(
            self._connection,
            self.host,
            self.port,
            ssl=self.tls,
            limit=MAX_MESSAGE_BYTES,
            encoding="latin-1",  # bytes pass through; Intake decodes them itself
        )
        bound = server.sockets[0].getsockname()[1] if server.sockets else self.port
        log.info("hl7.listening", host=self.host, port=bound, tls=self.tls is not None)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
            self.pool.shutdown(wait=True)
            log.info("hl7.stopped")

    async def _connection(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self.connections += 1
        metrics.CONNECTIONS.inc()
        log.info("hl7.connected", peer=str(peer[0]) if peer else "")
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            metrics.CONNECTIONS.dec()
            writer.close()
            log.info("hl7.disconnected", peer=str(peer[0]) if peer else "")

    async def _one(self, reader: HL7StreamReader, writer: HL7StreamWriter) -> bool:
        """Read, apply and answer one block; False when the connection should end."""
        try:
            block = await reader.readblock()
        except asyncio.IncompleteReadError:
            return False  # the peer closed (a partial block is never applied)
        except (InvalidBlockError, ValueError) as exc:
            writer.writeblock(ack.reject(f"not an MLLP block ({type(exc).__name__})").encode())
            await writer.drain()
            metrics.observe("unknown", "AR", 0.0, False)
            return True
        started = time.perf_counter()
        loop, pool = asyncio.get_running_loop(), self.pool
        try:
            reply = await loop.run_in_executor(pool, self.handle, bytes(block))
        except BrokenProcessPool:  # a worker died mid-message: every later submit would fail
            metrics.UNANSWERED.inc()
            log.error("hl7.unanswered", error="BrokenProcessPool")
            if pool is self.pool:  # the first connection to see it replaces it, once
                self._replace_pool()
            return False
        except Exception as exc:  # the database failed (or a bug): never ACK what is not stored
            metrics.UNANSWERED.inc()
            # The type only: an exception's text may quote the message, which is PHI.
            log.error("hl7.unanswered", error=type(exc).__name__)
            return False
        writer.writeblock(reply.ack.encode("utf-8"))
        await writer.drain()
        metrics.observe(
            reply.message_type, reply.code, time.perf_counter() - started, reply.duplicate
        )
        return True

    def _replace_pool(self) -> None:
        """A new pool for every connection. It starts its processes before it returns (a second
        or two in which the event loop waits: rare, and better than each connection failing)."""
        broken, self.pool = self.pool, self.make_pool()
        broken.shutdown(wait=False, cancel_futures=True)
        log.info("hl7.pool-replaced")
