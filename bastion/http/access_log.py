"""One log line per request: method, path, status and milliseconds.

The query string is left out on purpose: GET requests carry GraphQL documents and variables
there, and those can hold personal data.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.tools.log_queue import log_later

log = logging.getLogger("bastion.access")


def write_line(scope: Scope, status: int, seconds: float, request_id: str | None = None) -> None:
    """Log the line of one request that took ``seconds`` (read with ``time.perf_counter()``).

    The line's values are plain (two strings and two numbers): under ``bastion serve`` the log
    thread makes the record from them and formats it (:func:`bastion.tools.log_queue.log_later`).
    The same facts are the record's fields too, for the JSON log format.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    elapsed = seconds * 1000
    method, path = scope["method"], scope["path"]
    log_later(
        log,
        logging.INFO,
        "%s %s %d %.1fms",
        (method, path, status, elapsed),
        {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(elapsed, 1),
            "request_id": request_id,
        },
    )


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
