"""Answers written to their sockets at the end of the event loop's turn, all together.

Under load, one turn of the event loop reads several connections' requests, then runs their
tasks one after the other. uvicorn hands each answer to its socket as its task sends it: a
system call (the head, then the body: two) between one request's Python and the next one's.
Measured with ``scripts/bench reads`` (the viewer query at 32 connections), keeping a turn's
writes until its tasks have run cut the server's CPU per request by about a quarter, where
joining each answer's two writes into one had gained nothing measurable: the likely cause is
that the kernel's work for a send evicts the processor's caches the next request's Python had
warm, so that each request ran its interpreter code cold.

So :class:`BatchedTransport` keeps what a connection writes during a turn, and its server's
:class:`WriteBatch` writes every connection's kept bytes in one callback once the tasks ready
in that turn have run: each connection's head and body go in one write. No answer waits for
more than the rest of the turn. What stays as uvicorn has it:

- a connection's bytes are written in the order given, and before the connection is closed;
- flow control: once a connection has ``WRITE_AT_ONCE`` bytes kept they are written at once,
  so that the socket's own buffer limits pause a streaming answer as before, and a body that
  large alone is written as it comes, not copied into a join;
- nothing is written to a connection that is closing (its client went away).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

WRITE_AT_ONCE = 64 * 1024
"""Kept bytes of one connection that are written without waiting for the turn's end."""

log = logging.getLogger("bastion.http")


class WriteBatch:
    """The connections of one server that have bytes kept in the current turn of its loop."""

    __slots__ = ("_due", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: list[BatchedTransport] = []

    def keep(self, transport: BatchedTransport) -> None:
        """Write ``transport``'s kept bytes once the turn's ready tasks have run."""
        if not self._due:
            # Called back after the callbacks already ready: the tasks of this turn's requests.
            self._loop.call_soon(self.write_all)
        self._due.append(transport)

    def write_all(self) -> None:
        """Write every connection's kept bytes."""
        due, self._due = self._due, []
        for transport in due:
            try:
                transport.flush()
            except Exception:  # one broken connection must not keep the others' answers
                log.exception("writing an answer failed; the connection is dropped")
                transport.abort()


class BatchedTransport:
    """A connection's transport whose writes wait for the end of the loop's turn (see the
    module); everything else is the transport's own."""

    __slots__ = ("_batch", "_kept", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, batch: WriteBatch) -> None:
        self._transport = transport
        self._batch = batch
        self._kept: list[bytes] = []
        self._size = 0

    @property
    def transport(self) -> asyncio.Transport:
        """The connection's own transport."""
        return self._transport

    def write(self, data: bytes) -> None:
        """Keep ``data`` for the turn's end (or write it now, past ``WRITE_AT_ONCE``)."""
        kept = self._kept
        if not kept:
            if len(data) >= WRITE_AT_ONCE:
                self._transport.write(data)
                return
            self._batch.keep(self)
        kept.append(data)
        self._size += len(data)
        if self._size >= WRITE_AT_ONCE:
            self.flush()

    def writelines(self, lines: Any) -> None:
        """Keep each of ``lines``, as :meth:`write` does."""
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is kept now."""
        kept = self._kept
        if not kept:
            return
        data = kept[0] if len(kept) == 1 else b"".join(kept)
        self._kept = []
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        """Write what is kept, then close the connection (once its buffer is written)."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Write what is kept, then end the connection's writing side."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drop what is kept and close the connection at once."""
        self._kept = []
        self._size = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        # is_closing, get_extra_info, pause_reading...: the transport's own.
        return getattr(self._transport, name)
