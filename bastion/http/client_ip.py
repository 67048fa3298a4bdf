"""The client's address, for the limits that count attempts per client.

It is the socket's peer, except when the peer is a proxy ``http.trusted_proxies`` lists: then
``X-Forwarded-For`` is read from the right, skipping the trusted proxies, and the first other
address is the client. Anything else a client sends about its address is ignored, so that
nobody escapes a limit by writing a header. (Uvicorn's own proxy-header handling is switched
off by ``bastion serve`` for the same reason: it trusts 127.0.0.1 by default.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """``10.0.0.1`` or ``10.0.0.0/8`` entries as networks; ValueError names a bad one."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (10.0.0.0/8)") from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(peer: str | None, forwarded_for: str | None, trusted: list[Network]) -> str | None:
    """The client's address given the socket peer and the ``X-Forwarded-For`` header."""
    if peer is None:
        return None
    peer_address = _address(peer)
    if peer_address is None or not any(peer_address in n for n in trusted) or not forwarded_for:
        return peer
    hops = [h for h in (part.strip() for part in forwarded_for.split(",")) if h]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # a malformed chain: trust none of it
        if not any(address in n for n in trusted):
            return str(address)
    return str(_address(hops[0])) if hops else peer


class ClientIP:
    """ASGI middleware putting the client's address in ``request.state.client_ip``."""

    def __init__(self, app: ASGIApp, trusted: list[Network]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = scope.get("client")
            forwarded = None
            if self.trusted:
                for name, value in scope.get("headers", ()):
                    if name == b"x-forwarded-for":
                        # Several headers are one list, in order (RFC 9110 field lines).
                        text = value.decode("latin-1")
                        forwarded = f"{forwarded}, {text}" if forwarded else text
            ip = client_ip(peer[0] if peer else None, forwarded, self.trusted)
            scope.setdefault("state", {})["client_ip"] = ip
        await self.app(scope, receive, send)
