"""The work every request needs at the edge, in one ASGI layer: the head cap, the client's
address and the access log line.

Each of these is also a middleware of its own (:class:`~bastion.http.header_limit.HeaderLimit`,
:class:`~bastion.http.client_ip.ClientIP`, :class:`~bastion.http.access_log.AccessLog`), and
this layer does what the three stacked in that order (access log outermost) did, with their
functions: one coroutine and one ``send`` wrapper per request instead of three of each.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.http.access_log import write_line
from bastion.http.client_ip import Network, remember_ip
from bastion.http.header_limit import head_size, refuse


class Edge:
    """ASGI middleware: 431 for a head over ``limit`` bytes, else the client's address (through
    ``trusted`` proxies) in the request's state; one access log line for each request."""

    def __init__(self, app: ASGIApp, limit: int, trusted: list[Network]) -> None:
        self.app = app
        self.limit = limit
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if head_size(scope) > self.limit:
                # Refused before anything reads the headers (or the address they may carry).
                await refuse(self.limit, capture)
            else:
                remember_ip(scope, self.trusted)
                await self.app(scope, receive, capture)
        finally:
            write_line(scope, status, start)
