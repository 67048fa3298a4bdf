"""The :class:`~bastion.graphql.caller.Caller` of a request, built once at the HTTP edge.

The engine below never sees Starlette: each route that runs GraphQL or a login reads the
request here and hands the typed description down. The address is the one
:class:`bastion.http.client_ip.ClientIP` resolved through ``http.trusted_proxies``; nothing
the client writes about its own address is read here.
"""

from __future__ import annotations

from starlette.requests import Request

from bastion.graphql.caller import Caller
from bastion.http.client_ip import found_ip


def caller_of(request: Request) -> Caller:
    """The method, client address, user agent and languages of ``request``."""
    return Caller(
        method=request.method,
        ip=found_ip(request.scope),
        user_agent=request.headers.get("user-agent"),
        accept_language=request.headers.get("accept-language"),
    )
