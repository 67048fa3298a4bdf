"""The work every request needs at the edge, in one ASGI layer: the head cap, the client's
address, the request id and the access log line.

The request id is the ``X-Request-Id`` the request carried, when it is short and plain (a proxy
in front may have made one), else a new one; it is answered in the response's ``X-Request-Id``
and marks every log record made while the request runs.

Each of these is also a middleware of its own (:class:`~bastion.http.header_limit.HeaderLimit`,
:class:`~bastion.http.client_ip.ClientIP`, :class:`~bastion.http.access_log.AccessLog`), and
this layer does what the three stacked in that order (access log outermost) did, with their
functions: one coroutine and one ``send`` wrapper per request instead of three of each.

It wraps the whole Starlette app (:mod:`bastion.http.app`), whose error layer answers a
route's crash inside it, and asks the routes of a few exact paths (``/graphql``) for their
answer directly, past Starlette altogether (its entry, error layer, exception layer and
router): matching a path against every route and wrapping the call and ``send`` again cost
more than a tenth of a small query's CPU. Such a route answers with an
:class:`~bastion.http.answer.Answer` that this layer sends itself, its request id's line added
as it sends: no wrapper around ``send`` for the common request. Only paths whose route answers
every method and raises no HTTP exceptions of Starlette's belong there, and none when CORS is
on (its middleware sits between this layer and the router).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.http.access_log import write_line
from bastion.http.answer import Answer, DirectRoute
from bastion.http.client_ip import Network, remember_ip
from bastion.http.header_limit import head_size, refuse
from bastion.tools.log_format import request_id_for, use_request_id


class Edge:
    """ASGI middleware: 431 for a head over ``limit`` bytes, else the client's address (through
    ``trusted`` proxies) in the request's state; one access log line for each request."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        trusted: list[Network],
        observe: Callable[[Scope, int, float], None] | None = None,
        direct: Mapping[str, DirectRoute] | None = None,
    ) -> None:
        """``observe`` is told of each answered request: its scope, status and seconds;
        ``direct`` maps exact paths to the routes that answer them without the router."""
        self.app = app
        self.limit = limit
        self.trusted = trusted
        self.observe = observe
        self.direct = dict(direct or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        too_large = head_size(scope) > self.limit
        # Refused before anything reads the headers (or the id or address they may carry).
        request_id = request_id_for(None if too_large else _sent_id(scope))
        use_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        status = 500  # what the log says of a request that answered nothing
        sent = None  # the wrapper of `send`, for answers other apps send
        try:
            if too_large:
                sent = _Sent(send, header)
                await refuse(self.limit, sent.send)
                return
            remember_ip(scope, self.trusted)
            app = self.app
            route = self.direct.get(scope["path"]) if self.direct else None
            if route is not None and not scope.get("root_path"):
                answer = await route.answer(scope, receive)
                if isinstance(answer, Answer):
                    # Sent here with the request id's line: no wrapper around `send`.
                    status = answer.status
                    await answer.send(send, header)
                    return
                app = answer
            sent = _Sent(send, header)
            await app(scope, receive, sent.send)
        finally:
            if sent is not None:
                status = sent.status
            seconds = time.perf_counter() - start
            write_line(scope, status, seconds, request_id)
            if self.observe is not None:
                self.observe(scope, status, seconds)
            use_request_id(None)


class _Sent:
    """The ``send`` of a request whose answer goes through another app: its status noted, its
    request id's header line added to the start of the answer."""

    __slots__ = ("_header", "_send", "status")

    def __init__(self, send: Send, header: tuple[bytes, bytes]) -> None:
        self._send = send
        self._header = header
        self.status = 500  # until an answer starts

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", ()), self._header]}
        await self._send(message)


def _sent_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            sent: str = value.decode("latin-1")
            return sent
    return None
