"""Request bodies: read with a size limit, parsed as a JSON object, checked to be text.

Starlette reads whatever a client sends; these helpers stop at the limit while reading, so a
10 MB body costs no more than the limit, and refuse what the layers below would choke on.
A body must be UTF-8 without a byte order mark (RFC 8259 section 8.1): ``json.loads`` would
guess UTF-16 or UTF-32 from the first bytes, and a proxy or firewall in front of Bastion that
reads the body as UTF-8 would then see a different request than Bastion runs.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import Receive


class BodyError(Exception):
    """A request body that cannot be used, with the HTTP status that says why."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes (see receive_body)."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The body of a request whose ``Content-Length`` header is ``declared``, refused with 413
    as soon as it passes ``limit`` bytes.

    Read from the ASGI messages themselves: Starlette's stream is an async generator, which
    costs more than the read of a small body. Nothing reads the request's body after this.
    """
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"The request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away mid-upload: its fault, not a bug to log with a traceback.
            raise BodyError(400, "The request body ended early")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"The request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every request: ``json.loads`` with an option builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str | bytes) -> Any:
    """JSON without NaN and Infinity, which ``json.loads`` accepts by default."""
    if isinstance(text, str) and not text.startswith("\ufeff"):
        return _DECODER.decode(text)
    # Bytes (whose encoding json.loads guesses) and a BOM (which it refuses): as it does.
    return json.loads(text, parse_constant=_reject_constant)


NOT_UTF8 = "The request body must be UTF-8 text, without a byte order mark"


def utf8_text(raw: bytes) -> str:
    """The body decoded as strict UTF-8; a BOM or any other encoding is :class:`BodyError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, NOT_UTF8) from None
    if text.startswith("\ufeff"):
        raise BodyError(400, NOT_UTF8)
    return text


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object of Unicode text; raises :class:`BodyError` (400)."""
    text = utf8_text(raw)  # never bytes to json.loads, which guesses their encoding
    try:
        body = parse_json(text)
    except (ValueError, RecursionError):
        raise BodyError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BodyError(400, "The request body must be a JSON object")
    # Strictly decoded UTF-8 holds neither, and JSON refuses raw control characters in
    # strings: only a \u escape can bring a surrogate or a NUL in.
    if "\\u" in text and not is_text(body):
        raise BodyError(400, "The request holds text that is not valid Unicode (or a NUL)")
    return body


def is_text(value: Any) -> bool:
    """False when a string anywhere in ``value`` holds a lone UTF-16 surrogate or a NUL.

    JSON escapes can carry them ("\\ud800"); they are not Unicode text, and would fail deep in
    the password hasher or the database instead of here.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        # NUL is valid JSON but no text a person types; PostgreSQL cannot even store it.
        return "\x00" not in value
    if isinstance(value, dict):
        return all(is_text(k) and is_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_text(item) for item in value)
    return True
