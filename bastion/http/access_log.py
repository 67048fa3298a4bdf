"""One log line per request: method, path, status and milliseconds.

The query string is left out on purpose: GET requests carry GraphQL documents and variables
there, and those can hold personal data.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.tools.log_queue import LineMaker, Made, log_made_later

log = logging.getLogger("bastion.access")
_INFO = logging.INFO
_MESSAGE = "%s %s %d %.1fms"


def write_line(scope: Scope, status: int, seconds: float, request_id: str | None = None) -> None:
    """Log the line of one request that took ``seconds`` (read with ``time.perf_counter()``).

    Only the line's values are taken here: under ``bastion serve`` the event loop keeps them
    and makes the lines of a batch in one go (:func:`bastion.tools.log_queue.log_made_later`):
    in the text format straight from them (:func:`_text`), in JSON through the record that
    :func:`_line`'s message and fields make (the same facts, as the record's fields).
    """
    log_made_later(log, _INFO, _LINE, (scope["method"], scope["path"], status, seconds, request_id))


def _line(values: tuple[str, str, int, float, str | None]) -> Made:
    """The access line's message, arguments and fields, of the values :func:`write_line`
    took."""
    method, path, status, seconds, request_id = values
    elapsed = seconds * 1000
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(elapsed, 1),
        "request_id": request_id,
    }
    return _MESSAGE, (method, path, status, elapsed), fields


def _text(values: tuple[str, str, int, float, str | None]) -> tuple[str, str | None]:
    """The access line's message as :func:`_line`'s would read, and its request id."""
    method, path, status, seconds, request_id = values
    return _MESSAGE % (method, path, status, seconds * 1000), request_id


# The fields' names are those _line answers (read off one line, so they have one home).
_LINE = LineMaker(_line, _text, frozenset(_line(("GET", "/", 200, 0.0, None))[2]))


class AccessLog:
    """ASGI middleware writing the access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            await self.app(scope, receive, capture)
        finally:
            write_line(scope, status, time.perf_counter() - start)
