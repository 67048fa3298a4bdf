"""Network parsing: IP networks from settings, and the client's address behind trusted proxies.

The client is the socket's peer, except when the peer is a trusted proxy: then
``X-Forwarded-For`` is read from the right, skipping the trusted proxies, and the first other
address is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

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
    if peer is None or not trusted or not forwarded_for:
        # No proxy to trust, or nothing forwarded: the peer, without parsing it (per request).
        return peer
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
