"""``GET /.well-known/jwks.json``: the public keys that verify this project's access tokens.

Other services verify Bastion's tokens with them, without sharing a secret. Only asymmetric
keys are listed (public parameters, ``kid``, ``alg``, ``use: sig``); HMAC keys never are, so a
project signing with HS256 alone answers ``{"keys": []}``. A key is listed from the moment it
is published, before it signs (see :mod:`bastion.auth.keys`), which is why others may cache
the document for a few minutes: it carries no token and no user's data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bastion.auth.keys import JWKS_MAX_AGE, KeySet


def jwks_endpoint(keys: KeySet) -> Callable[[Request], Awaitable[Response]]:
    """The route handler serving the public keys of ``keys``."""

    async def jwks(_request: Request) -> Response:
        await keys.refresh()
        return JSONResponse(
            keys.jwks(), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}
        )

    return jwks
