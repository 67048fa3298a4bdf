"""The browser side of OpenID sign-in: ``/auth/openid/<name>/start`` and its callback.

``start`` stores the flow, sets a cookie that binds it to this browser (HttpOnly,
SameSite=Lax so that it comes back with the provider's top-level redirect, scoped to the
provider's path, ten minutes) and redirects to the provider. ``callback`` takes the flow
(once), checks the cookie, and redirects to the app's URL with ``#bastion_code=...``, or with
``#error=<code>`` when the sign-in failed once the flow was known. A callback that names no
flow of this browser answers a plain 400 page: there is no app to send it to.
See :mod:`bastion.auth.openid.signin`.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bastion.auth.openid.signin import FLOW_LIFETIME, OpenIdSignIn
from bastion.errors import BastionError, Code
from bastion.http.client_ip import found_ip

log = logging.getLogger("bastion.http")
COOKIE = "bastion_openid"
_NO_STORE = {"Cache-Control": "no-store"}


def _cookie_path(name: str) -> str:
    return f"/auth/openid/{name}/"


def _refused(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message, status_code=status, headers=_NO_STORE)


def openid_routes(openid: OpenIdSignIn) -> list[Route]:
    """The start and callback routes of every configured provider."""

    async def start(request: Request) -> Response:
        name = request.path_params["name"]
        redirect_url = request.query_params.get("redirect_url", "")
        challenge = request.query_params.get("code_challenge", "")
        try:
            callback = openid.callback_url(name, str(request.base_url))
            started = await openid.start(
                name, redirect_url, challenge, callback, found_ip(request.scope)
            )
        except BastionError as error:
            status = 429 if error.code is Code.RATE_LIMITED else 400
            return _refused(f"Cannot start the sign-in: {error.message}", status)
        response = RedirectResponse(started.url, status_code=302, headers=_NO_STORE)
        response.set_cookie(
            COOKIE,
            started.browser_secret,
            max_age=int(FLOW_LIFETIME.total_seconds()),
            path=_cookie_path(name),
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    async def callback(request: Request) -> Response:
        name = request.path_params["name"]
        params = request.query_params
        try:
            flow = await openid.take_flow(
                name, params.get("state", ""), request.cookies.get(COOKIE)
            )
        except BastionError as error:
            return _refused(f"Sign-in failed: {error.message}")
        if "error" in params or "code" not in params:
            target = f"{flow.redirect_url}#error={quote(params.get('error', 'no_code')[:100])}"
        else:
            try:
                target = await openid.callback(flow, params["code"], found_ip(request.scope))
            except BastionError as error:
                log.info("openid sign-in with %s refused: %s", name, error.extensions or error.code)
                target = f"{flow.redirect_url}#error={error.code.value}"
        response = RedirectResponse(target, status_code=302, headers=_NO_STORE)
        response.delete_cookie(COOKIE, path=_cookie_path(name))
        return response

    return [
        Route("/auth/openid/{name}/start", start, methods=["GET"]),
        Route("/auth/openid/{name}/callback", callback, methods=["GET"]),
    ]
