"""A JSON answer sent as two ASGI messages, and the routes that hand theirs to the edge.

:class:`Answer` is what a Starlette ``Response`` of the same body, status, media type and
headers would send, made without one: a GraphQL request's answer costs no ``Response`` object,
no header ``MutableHeaders`` and no send wrapper. A :class:`DirectRoute` answers a request
with one (or with an ASGI app, for the rare answer that is not plain JSON) and lets the caller
send it: the edge (:mod:`bastion.http.edge`) then adds its own header lines as it sends,
instead of wrapping ``send`` for every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from types import MappingProxyType
from typing import Protocol

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

NO_STORE: Mapping[str, str] = MappingProxyType({"Cache-Control": "no-store"})
"""The headers of the commonest answer: no cache may keep it (its lines are made once)."""

_NO_STORE_LINES = ((b"cache-control", b"no-store"),)
_MEDIA_BYTES: dict[str, bytes] = {}


def _media(media_type: str) -> bytes:
    media = _MEDIA_BYTES.get(media_type)
    if media is None:
        media = _MEDIA_BYTES[media_type] = media_type.encode("latin-1")
    return media


class Answer:
    """A response of ``body``: what a Starlette ``Response`` would send, sent without one."""

    __slots__ = ("body", "headers", "media_type", "status")

    def __init__(
        self, body: bytes, status: int, media_type: str, headers: Mapping[str, str] | None
    ) -> None:
        self.body = body
        self.status = status
        self.media_type = media_type
        self.headers = headers

    def response(self) -> Response:
        """The same answer as a Starlette response (for routes that return one)."""
        headers = None if self.headers is None else dict(self.headers)
        return Response(
            self.body, status_code=self.status, media_type=self.media_type, headers=headers
        )

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The header lines ``response().raw_headers`` holds, in the same order: the given
        headers (names in lower case), then content-length and content-type unless given."""
        length = (b"content-length", str(len(self.body)).encode("latin-1"))
        if not self.headers:
            return [length, (b"content-type", _media(self.media_type))]
        if self.headers is NO_STORE:
            return [*_NO_STORE_LINES, length, (b"content-type", _media(self.media_type))]
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        keys = [name for name, _ in raw]
        if b"content-length" not in keys:
            raw.append(length)
        if b"content-type" not in keys:
            raw.append((b"content-type", _media(self.media_type)))
        return raw

    async def send(self, send: Send, *extra: tuple[bytes, bytes]) -> None:
        """Send the answer as ``Response.__call__`` does (no background task), with the
        ``extra`` header lines after its own."""
        headers = self.raw_headers()
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class DirectRoute(Protocol):
    """A route the edge calls for its answer instead of as an ASGI app (see the module)."""

    def answer(self, scope: Scope, receive: Receive) -> Awaitable[Answer | ASGIApp]:
        """The answer to the request of ``scope``: an :class:`Answer` for the caller to send,
        or an ASGI app that answers it (called with the same scope and receive)."""
        ...
