"""A cap on the size of a request's head (request line and headers), answered with 431.

Nothing in Starlette or graphql-core bounds headers: a 40 MB ``Authorization`` header would be
read, kept and parsed. ``bastion serve`` runs uvicorn with a protocol that stops reading a head
at ``http.max_header_bytes`` (see :mod:`bastion.http.server`), so an oversized head never
reaches the app; this middleware is the second line, for the app served by any other ASGI
server, and refuses a head over the same limit before any route reads it.
"""

from __future__ import annotations

import json
from itertools import chain

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import Code

STATUS = 431


def refusal_body(limit: int) -> bytes:
    """The JSON body of a 431: a GraphQL-shaped error with a stable code."""
    message = f"The request line and headers are larger than {limit} bytes"
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": Code.HEADERS_TOO_LARGE}}]}
    ).encode()


def head_size(scope: Scope) -> int:
    """The bytes of a request's head as sent: the request line and every header line."""
    line = len(scope.get("raw_path") or scope["path"].encode()) + len(scope["query_string"])
    headers = scope["headers"]
    # Each line is its name, ": ", its value and CRLF (summed in C: this runs per request).
    return line + sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)


async def refuse(limit: int, send: Send) -> None:
    """Answer 431 with :func:`refusal_body`, and close the connection."""
    body = refusal_body(limit)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": STATUS, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class HeaderLimit:
    """Refuse HTTP requests whose head passes ``limit`` bytes with 431."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, unless its head is too large."""
        if scope["type"] != "http" or head_size(scope) <= self.limit:
            await self.app(scope, receive, send)
            return
        await refuse(self.limit, send)
