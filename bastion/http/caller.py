"""The :class:`~bastion.graphql.caller.Caller` of a request, built once at the HTTP edge.

The engine below never sees Starlette: each route that runs GraphQL or a login reads the
request here and hands the typed description down. The address is the one
:class:`bastion.http.client_ip.ClientIP` resolved through ``http.trusted_proxies``; nothing
the client writes about its own address is read here.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Scope

from bastion.graphql.caller import Caller
from bastion.http.client_ip import found_ip


def caller_of(request: Request) -> Caller:
    """The method, client address, user agent and languages of ``request``."""
    headers = request.headers
    return caller_from(
        request.scope,
        request.method,
        _raw(headers.get("user-agent")),
        _raw(headers.get("accept-language")),
    )


def caller_from(
    scope: Scope, method: str, user_agent: bytes | None, accept_language: bytes | None
) -> Caller:
    """The caller of the request of ``scope``, from the raw values of its ``User-Agent`` and
    ``Accept-Language`` headers, which the route has read already: they are decoded (latin-1,
    as Starlette decodes headers) only for a caller not made lately."""
    key = (method, found_ip(scope), user_agent, accept_language)
    caller = _made.get(key)
    if caller is None:
        caller = Caller(method, key[1], _text(user_agent), _text(accept_language))
        # Latin-1: as many characters as bytes.
        if len(user_agent or b"") + len(accept_language or b"") <= _MAX_KEPT_TEXT:
            if len(_made) >= _MAX_MADE:
                _made.clear()
            _made[key] = caller
    return caller


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _raw(value: str | None) -> bytes | None:
    return None if value is None else value.encode("latin-1")


# The callers made lately, by their values: a client sends the same ones request after request,
# and a Caller (frozen) is shared safely; making one costs more than finding it. Bounded in
# entries and in the header text each keeps.
_MAX_MADE = 1024
_MAX_KEPT_TEXT = 1024
_made: dict[tuple[str | None, str | None, bytes | None, bytes | None], Caller] = {}
