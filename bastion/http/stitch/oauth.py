"""Stitch's OAuth 2 providers (``oauth2-google``, ``oauth2-apple``, ``oauth2-<name>``) on
Bastion's OpenID providers.

realm-web's ``Credentials.google({idToken})`` and ``Credentials.apple(idToken)`` post the
provider's ID token to ``…/auth/providers/oauth2-<name>/login`` as ``{"id_token": ...}``; given
a URL instead (``Credentials.google({redirectUrl})``), realm-web opens a window on
``GET …/auth/providers/oauth2-<name>/login?redirect=<url>&state=<state>&device=<base64>``,
which is sent to the provider and back to ``/api/client/v2.0/auth/callback`` (the one
callback of every provider, as on MongoDB's service), which sends it on to ``redirect`` with
``#_baas_client_app_id=…&_baas_ua=<access>$<refresh>$<user id>$<device id>&_baas_state=<state>``
(or ``_baas_error``) in the fragment, read by realm-web's ``handleAuthRedirect`` there.

``oauth2-<name>`` is the provider configured as ``auth.providers.openid.<name>``: name it
``google`` or ``apple`` for realm-web's ``Credentials.google`` / ``Credentials.apple``. The
sign-in itself is :class:`bastion.auth.openid.signin.OpenIdSignIn`'s: the same checks of the
ID token, the same ``redirect_urls`` allow-list, the same flow bound to the browser by a
cookie, the same accounts.

Realm's ID tokens carry no nonce of the client's (realm-web sends none): an ID token must
carry a ``nonce`` claim of its own (Google Sign-In and Sign in with Apple put the one the app
asked for), and that nonce is taken once, so a token cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bastion.auth.logins import LoggedIn, LoginClient, ProviderDisabled
from bastion.auth.openid.id_tokens import MAX_ID_TOKEN_LENGTH, IdTokenRefused
from bastion.auth.openid.signin import FLOW_LIFETIME, OpenIdSignIn
from bastion.errors import BastionError
from bastion.http.caller import caller_of
from bastion.http.stitch.errors import StitchError, from_bastion
from bastion.store.auth.openid_rows import FlowRow
from bastion.store.ids import NULL_ID, is_id

PREFIX = "oauth2-"
"""Stitch's provider names: ``oauth2-<the name of a provider of auth.providers.openid>``."""
CALLBACK_PATH = "/api/client/v2.0/auth/callback"
"""Where every provider sends the browser back (register it at the provider)."""
COOKIE = "bastion_stitch_oauth"
_MAX_STATE = 200
_MAX_DEVICE = 2048


def is_oauth(provider: str) -> bool:
    """Whether a Stitch provider name is one of the OAuth 2 providers."""
    return provider.startswith(PREFIX) and len(provider) > len(PREFIX)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_nonce(id_token: str) -> str:
    """The ``nonce`` claim of an ID token, read before its signature is checked (the check
    then requires exactly it)."""
    parts = id_token.split(".")
    if len(id_token) > MAX_ID_TOKEN_LENGTH or len(parts) != 3:
        raise IdTokenRefused("malformed")
    try:
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        raise IdTokenRefused("malformed") from None
    nonce = claims.get("nonce") if isinstance(claims, dict) else None
    if not isinstance(nonce, str) or not nonce:
        raise IdTokenRefused("no nonce")  # a token without one could be replayed
    return nonce


def _device_id(encoded: str | None) -> str | None:
    """``deviceId`` of realm-web's ``device`` parameter (base64 JSON), when it names one."""
    if not encoded or len(encoded) > _MAX_DEVICE:
        return None
    try:
        device = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error):
        return None
    value = device.get("deviceId") if isinstance(device, dict) else None
    if isinstance(value, dict):
        value = value.get("$oid")
    return value if is_id(value) and value != NULL_ID else None


class StitchOAuth:
    """The OAuth 2 routes of one project's Stitch API."""

    def __init__(self, openid: OpenIdSignIn | None, app_id: str) -> None:
        self._openid = openid
        self._app_id = app_id

    def _provider(self, stitch_name: str) -> tuple[OpenIdSignIn, str]:
        """Bastion's sign-in and the provider's name; an unknown provider and a disabled one
        answer alike."""
        name = stitch_name.removeprefix(PREFIX)
        if self._openid is None:
            raise ProviderDisabled(stitch_name)
        try:
            self._openid.callback_url(name, "http://x")  # raises for unknown and disabled
        except ProviderDisabled:
            raise ProviderDisabled(stitch_name) from None
        return self._openid, name

    async def login(
        self,
        stitch_name: str,
        body: dict[str, Any],
        client: LoginClient,
        viewer_user_id: str | None,
        link: bool,
    ) -> LoggedIn:
        """``{"id_token": ...}`` (Apple, Google, any OpenID provider): sign in or link."""
        openid, name = self._provider(stitch_name)
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise StitchError(400, "InvalidParameter", "send the provider's ID token as `id_token`")
        nonce = _token_nonce(id_token)
        return await openid.login(
            name, client, viewer_user_id, nonce=nonce, id_token=id_token, link=link
        )

    async def start(self, request: Request, stitch_name: str) -> Response:
        """``GET …/login?redirect=&state=&device=``: to the provider, the flow bound to this
        browser by a cookie."""
        openid, name = self._provider(stitch_name)
        params = request.query_params
        if params.get("link") == "true":
            raise StitchError(
                400, "InvalidParameter", "linking by redirect is not offered: link an ID token"
            )
        redirect, state = params.get("redirect", ""), params.get("state", "")
        if not 0 < len(state) <= _MAX_STATE:
            raise StitchError(400, "InvalidParameter", "state is required")
        verifier = secrets.token_urlsafe(48)
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        callback = str(request.base_url).rstrip("/") + CALLBACK_PATH
        started = await openid.start(name, redirect, challenge, callback, caller_of(request).ip)
        kept = {
            "provider": name,
            "browser": started.browser_secret,
            "verifier": verifier,
            "state": state,
            "device": _device_id(params.get("device")),
        }
        response = RedirectResponse(
            started.url, status_code=302, headers={"Cache-Control": "no-store"}
        )
        response.set_cookie(
            COOKIE,
            _b64url(json.dumps(kept).encode()),
            max_age=int(FLOW_LIFETIME.total_seconds()),
            path=CALLBACK_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    async def callback(self, request: Request) -> Response:
        """The provider's answer: to the app's ``redirect`` with the session (or the error)
        in the fragment, where realm-web's ``handleAuthRedirect`` reads it."""
        kept = self._kept(request.cookies.get(COOKIE))
        openid = self._openid
        if kept is None or openid is None:
            raise StitchError(400, "InvalidParameter", "no sign-in of this browser")
        params = request.query_params
        try:
            flow = await openid.take_flow(
                kept["provider"], params.get("state", ""), kept["browser"]
            )
        except BastionError as error:
            raise from_bastion(error) from None
        answer: dict[str, str] = {"_baas_state": kept["state"]}
        if "error" in params or "code" not in params:
            answer["_baas_error"] = params.get("error", "no_code")[:100]
        else:
            caller = caller_of(request)
            client = LoginClient(
                user_agent=caller.user_agent, device_id=kept["device"], stitch=True, ip=caller.ip
            )
            try:
                logged_in = await self._finish(
                    openid, flow, params["code"], kept["verifier"], client
                )
            except BastionError as error:
                answer["_baas_error"] = from_bastion(error).message
            else:
                tokens = logged_in.tokens
                answer["_baas_client_app_id"] = self._app_id
                answer["_baas_ua"] = "$".join(
                    (tokens.access_token, tokens.refresh_token, logged_in.user_id, tokens.device_id)
                )
        target = f"{flow.redirect_url}#{urlencode(answer, quote_via=quote)}"
        response = RedirectResponse(target, status_code=302, headers={"Cache-Control": "no-store"})
        response.delete_cookie(COOKIE, path=CALLBACK_PATH)
        return response

    @staticmethod
    async def _finish(
        openid: OpenIdSignIn, flow: FlowRow, code: str, verifier: str, client: LoginClient
    ) -> LoggedIn:
        # Bastion's own flow ends in a one-time code for the app's PKCE verifier: here this
        # module is the app, and exchanges the code at once.
        back = await openid.callback(flow, code, client.ip)
        one_time = parse_qs(urlparse(back).fragment).get("bastion_code", [""])[0]
        return await openid.exchange(one_time, verifier, client, None)

    @staticmethod
    def _kept(cookie: str | None) -> dict[str, Any] | None:
        if not cookie or len(cookie) > 4096:
            return None
        try:
            kept = json.loads(_unb64(cookie))
        except (ValueError, binascii.Error):
            return None
        keys = {"provider", "browser", "verifier", "state", "device"}
        if not isinstance(kept, dict) or set(kept) != keys:
            return None
        return kept
