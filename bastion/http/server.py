"""How ``bastion serve`` runs uvicorn: its httptools protocol, with a cap on request heads.

uvicorn's httptools protocol (the fast one, llhttp in C) has no cap on a request head:
httptools keeps a header's value in memory, piece by piece, until its line ends, so a 40 MB
``Authorization`` header would be read whole. :class:`HeaderLimitedHttpTools` counts the bytes
of a head that is still open after each network read and answers 431 with a JSON error as
soon as they pass ``http.max_header_bytes``: at most the limit and a network read or two are
ever held. The count is exact where it matters (a head arriving over many reads); a head that
arrives complete in one read is measured exactly by the app
(:class:`bastion.http.edge.Edge`), with the same answer.

(uvicorn's h11 protocol has such a cap, ``h11_max_incomplete_event_size``, but parses in
Python: it cost about a fifth of the server's time per small request. Its setting carries the
limit here too, so the limit has one place in uvicorn's config.)

Its connections write through :class:`bastion.http.write_batch.BatchedTransport`: the answers
of one turn of the event loop are written together at its end.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from bastion.http.header_limit import STATUS, refusal_body
from bastion.http.write_batch import BatchedTransport, WriteBatch

# Each server's batch of writes (a server runs on one loop; its state lives as long as it).
_batches: WeakKeyDictionary[ServerState, WriteBatch] = WeakKeyDictionary()


class HeaderLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering a request head over the cap with 431, its
    answers written at the end of the loop's turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.config.h11_max_incomplete_event_size
        self._head_limit: int | None = limit
        self._head_open = False  # a request's head has begun and is not complete yet
        self._head_began = False  # ... and it began during the read being parsed
        self._head_bytes = 0  # the bytes of the open head, counted at the end of each read

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A connection opens: its writes go through its server's batch."""
        super().connection_made(transport)
        batch = _batches.get(self.server_state)
        if batch is None:
            batch = _batches[self.server_state] = WriteBatch(self.loop)
        # uvicorn's flow control keeps the transport itself (its pauses are the socket's).
        self.transport = BatchedTransport(transport, batch)  # type: ignore[assignment]

    def handle_websocket_upgrade(self) -> None:
        """A WebSocket takes the connection over: it gets the transport itself (its
        library's writes, flow control and closing handshake as they always were)."""
        batched = self.transport
        if isinstance(batched, BatchedTransport):
            batched.flush()
            self.transport = batched.transport
        super().handle_websocket_upgrade()

    def on_message_begin(self) -> None:
        """A request starts: its head is open until its headers are complete."""
        super().on_message_begin()
        self._head_open = self._head_began = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        """The head is complete: the request goes on as uvicorn runs it."""
        self._head_open = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """Parse a network read; refuse the request if its head is still open past the cap."""
        self._head_began = False
        super().data_received(data)
        if not self._head_open or self._head_limit is None or self.transport.is_closing():
            return
        if self._head_began:
            # The read may also hold the end of the request before; count what was parsed.
            self._head_bytes = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        else:
            self._head_bytes += len(data)
        if self._head_bytes > self._head_limit:
            self._refuse(self._head_limit)

    def _refuse(self, limit: int) -> None:
        # As uvicorn answers a request it cannot parse (send_400_response), with our status.
        body = refusal_body(limit)
        content = [STATUS_LINE[STATUS]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def uvicorn_options(max_header_bytes: int) -> dict[str, Any]:
    """The options of ``uvicorn.run`` that cap request heads at ``max_header_bytes``."""
    return {"http": HeaderLimitedHttpTools, "h11_max_incomplete_event_size": max_header_bytes}
