"""The client's address, for the limits that count attempts per client.

It is the socket's peer, except when the peer is a proxy ``http.trusted_proxies`` lists: then
``X-Forwarded-For`` is read from the right, skipping the trusted proxies, and the first other
address is the client. Anything else a client sends about its address is ignored, so that
nobody escapes a limit by writing a header. (Uvicorn's own proxy-header handling is switched
off by ``bastion serve`` for the same reason: it trusts 127.0.0.1 by default.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.tools.network import Network, client_ip, parse_networks

__all__ = ["ClientIP", "Network", "client_ip", "found_ip", "parse_networks", "remember_ip"]

_STATE_KEY = "client_ip"


class ClientIP:
    """ASGI middleware putting the client's address in the request's state (see found_ip)."""

    def __init__(self, app: ASGIApp, trusted: list[Network]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            remember_ip(scope, self.trusted)
        await self.app(scope, receive, send)


def remember_ip(scope: Scope, trusted: list[Network]) -> None:
    """Find the client's address of an HTTP request and keep it in its state (see found_ip)."""
    peer = scope.get("client")
    forwarded = None
    if trusted:
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                # Several headers are one list, in order (RFC 9110 field lines).
                text = value.decode("latin-1")
                forwarded = f"{forwarded}, {text}" if forwarded else text
    ip = client_ip(peer[0] if peer else None, forwarded, trusted)
    scope.setdefault("state", {})[_STATE_KEY] = ip


def found_ip(scope: Scope) -> str | None:
    """The address :class:`ClientIP` found for this request; None where it did not run."""
    ip = scope.get("state", {}).get(_STATE_KEY)
    return ip if isinstance(ip, str) else None
