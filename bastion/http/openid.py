"""The browser side of OpenID and OAuth 2 sign-in: ``/auth/openid/<name>/start`` and its
callback.

``start`` stores the flow, sets a cookie that binds it to this browser (HttpOnly, scoped to
the provider's path, ten minutes) and redirects to the provider. ``callback`` takes the flow
(once), checks the cookie, and redirects to the app's URL with ``#bastion_code=...``, or with
``#error=<code>`` when the sign-in failed once the flow was known. A callback that names no
flow of this browser answers a plain 400 page: there is no app to send it to.

The cookie's SameSite follows how the provider comes back. A redirect (``response_mode``
``query``) is a top-level GET, which carries a ``Lax`` cookie. A cross-site form POST
(``form_post``, Apple) carries only a ``SameSite=None`` cookie, which browsers keep only
with ``Secure`` (https, or ``localhost``): that one is set for such providers. It gives a
cross-site page nothing: the cookie is worth something only with the state the provider
handed to this browser's flow, it opens no session, it is HttpOnly, scoped to this provider's
callback path, used once, and gone after ten minutes.

The explorer (``/graphql``, when it is on) is one more place a flow may end: its path is
allowed besides the provider's ``redirect_urls``. See :mod:`bastion.auth.openid.signin`.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bastion.auth.openid.signin import FLOW_LIFETIME, OpenIdSignIn
from bastion.errors import BastionError, Code
from bastion.http.bodies import BodyError, read_body, utf8_text
from bastion.http.client_ip import found_ip

log = logging.getLogger("bastion.http")
COOKIE = "bastion_openid"
EXPLORER_PATH = "/graphql"
MAX_FORM_BYTES = 64 * 1024  # a code, a state, an ID token and Apple's `user`
_NO_STORE = {"Cache-Control": "no-store"}


def _cookie_path(name: str) -> str:
    return f"/auth/openid/{name}/"


def _cookie(name: str, form_post: bool, scheme: str) -> dict[str, Any]:
    """The flow cookie's attributes, the same when it is set and when it is deleted."""
    return {
        "path": _cookie_path(name),
        # SameSite=None is only kept with Secure (see the module's docstring).
        "secure": form_post or scheme == "https",
        "httponly": True,
        "samesite": "none" if form_post else "lax",
    }


def _refused(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message, status_code=status, headers=_NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    """A form POST's fields (the first of each name), read with a size limit."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BodyError(415, "The callback takes a form (application/x-www-form-urlencoded)")
    text = utf8_text(await read_body(request, MAX_FORM_BYTES))
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(text, max_num_fields=20, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise BodyError(400, "The form does not parse") from None
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def openid_routes(openid: OpenIdSignIn, *, explorer: bool = False) -> list[Route]:
    """The start and callback routes of every configured provider; ``explorer``: the
    explorer is on, and a flow may end there."""
    own_urls = (EXPLORER_PATH,) if explorer else ()

    async def start(request: Request) -> Response:
        name = request.path_params["name"]
        redirect_url = request.query_params.get("redirect_url", "")
        challenge = request.query_params.get("code_challenge", "")
        try:
            callback = openid.callback_url(name, str(request.base_url))
            started = await openid.start(
                name,
                redirect_url,
                challenge,
                callback,
                found_ip(request.scope),
                own_urls=own_urls,
            )
            form_post = openid.config(name).form_post
        except BastionError as error:
            status = 429 if error.code is Code.RATE_LIMITED else 400
            return _refused(f"Cannot start the sign-in: {error.message}", status)
        response = RedirectResponse(started.url, status_code=302, headers=_NO_STORE)
        response.set_cookie(
            COOKIE,
            started.browser_secret,
            max_age=int(FLOW_LIFETIME.total_seconds()),
            **_cookie(name, form_post, request.url.scheme),
        )
        return response

    async def callback(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            form_post = openid.config(name).form_post
        except BastionError as error:
            return _refused(f"Sign-in failed: {error.message}")
        if request.method == "POST":
            if not form_post:  # such a flow's Lax cookie never comes with a cross-site POST
                return _refused("This provider answers with a redirect, not a form", 405)
            try:
                params = await _form(request)
            except BodyError as error:
                return _refused(error.message, error.status)
        else:
            params = dict(request.query_params)
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
                target = await openid.callback(
                    flow, params["code"], found_ip(request.scope), user=params.get("user")
                )
            except BastionError as error:
                log.info("openid sign-in with %s refused: %s", name, error.extensions or error.code)
                target = f"{flow.redirect_url}#error={error.code.value}"
        # 303: the browser follows a POST's answer with a GET.
        status = 303 if request.method == "POST" else 302
        response = RedirectResponse(target, status_code=status, headers=_NO_STORE)
        response.delete_cookie(COOKIE, **_cookie(name, form_post, request.url.scheme))
        return response

    return [
        Route("/auth/openid/{name}/start", start, methods=["GET"]),
        Route("/auth/openid/{name}/callback", callback, methods=["GET", "POST"]),
    ]
