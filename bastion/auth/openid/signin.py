"""Signing in with an OpenID Connect or plain OAuth 2 provider: the browser flow and the
app's own calls.

**Browser flow** (a web app): the app sends the browser to ``/auth/openid/<name>/start`` with
an allow-listed ``redirect_url`` and a PKCE ``code_challenge`` of its own. Bastion stores the
flow (state, nonce, its PKCE verifier toward the provider, a digest of a cookie it sets in
that browser) and sends the browser to the provider. The provider sends it back to the
callback with ``code`` and ``state``: the flow is taken (once), the cookie must match (a
state carried into another browser is refused), the code is exchanged, the ID token
verified with the flow's nonce (a plain OAuth 2 provider: its userinfo endpoint read with the
access token instead, see :mod:`bastion.auth.openid.userinfo`), and the browser goes to
``redirect_url#bastion_code=...``: a one-time code, valid two minutes, that only the app
holding the verifier can exchange (``loginOpenIdCode``). No token ever travels in a URL.
A provider with ``response_mode: form_post`` (Apple) comes back as a cross-site form POST
instead, with the same fields, and Apple's ``user`` field (the name, on the first sign-in
only) is kept as the claim ``user``.

**App calls** (native apps, SPAs doing their own flow): ``loginOpenId`` with an ID token and
the nonce the app put in its request, or with an authorization code, its PKCE verifier and
the redirect URL used. A nonce is taken once. A plain OAuth 2 provider has no ID token and
no nonce: the app sends its code.

:meth:`OpenIdSignIn.login` is the one way in for anything holding a provider's code or ID
token (the GraphQL mutation, and the Stitch routes may reuse it): :meth:`OpenIdSignIn.identify`
proves the person, :meth:`OpenIdSignIn.finish` makes the session.

Either way the identity becomes a user by :mod:`bastion.auth.openid.accounts`, and the
session starts as every login does (a user with a second factor gets its challenge first).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bastion.auth.logins import LoggedIn, LoginClient, Logins, ProviderDisabled
from bastion.auth.openid.accounts import OpenIdAccounts
from bastion.auth.openid.client import authorization_url, exchange_code
from bastion.auth.openid.id_tokens import IdTokenRefused, verify_id_token
from bastion.auth.openid.identity import OpenIdIdentity, apple_user, provider_name
from bastion.auth.openid.metadata import ProviderMetadata
from bastion.auth.openid.userinfo import read_userinfo
from bastion.auth.openid_settings import OpenIdProviderConfig
from bastion.auth.providers.user_fields import UserFields
from bastion.auth.sessions import Start
from bastion.auth.throttle import LOGIN, Throttle
from bastion.errors import BadUserInput, BastionError, Code
from bastion.model import Model
from bastion.store import Store
from bastion.store.auth.openid_rows import CodeRow, FlowRow, OpenIdRows
from bastion.tools.clock import Clock

FLOW_LIFETIME = timedelta(minutes=10)
CODE_LIFETIME = timedelta(minutes=2)
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_TEXT_LIMIT = 4096


class SignInRefused(BastionError):
    """A flow, code or nonce that is unknown, used, expired or not this browser's."""

    code = Code.INVALID_CREDENTIALS

    def __init__(self, reason: str) -> None:
        super().__init__("Invalid or expired sign-in; start again", reason=reason)
        self.reason = reason


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the cookie that binds the flow to it."""

    url: str
    browser_secret: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _text(value: str, name: str) -> str:
    if not 0 < len(value) <= _TEXT_LIMIT:
        raise BadUserInput(f"`{name}` must be 1 to {_TEXT_LIMIT} characters", field=name)
    return value


class OpenIdSignIn:
    """The OpenID providers of one project."""

    def __init__(
        self,
        providers: dict[str, OpenIdProviderConfig],
        model: Model,
        store: Store,
        logins: Logins,
        accounts: OpenIdAccounts,
        rows: OpenIdRows,
        throttle: Throttle,
        clock: Clock,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self._metadata = {
            name: ProviderMetadata(name, config, self._http)
            for name, config in providers.items()
            if config.enabled
        }
        self._fields = {
            name: UserFields(model, config.claims, store.emails)
            for name, config in providers.items()
        }
        self._store = store
        self._logins = logins
        self._accounts = accounts
        self._rows = rows
        self._throttle = throttle
        self._clock = clock

    def _provider(self, name: str) -> ProviderMetadata:
        found = self._metadata.get(name)
        if found is None:
            raise ProviderDisabled(provider_name(name))
        return found

    def config(self, name: str) -> OpenIdProviderConfig:
        """The settings of the enabled provider ``name``."""
        return self._provider(name).config

    def callback_url(self, name: str, base_url: str) -> str:
        """Bastion's callback for ``name``: as configured, or under ``base_url``."""
        configured = self._provider(name).config.callback_url
        return configured or f"{base_url.rstrip('/')}/auth/openid/{name}/callback"

    # -- the browser flow ---------------------------------------------------------------------

    async def start(
        self,
        name: str,
        redirect_url: str,
        app_challenge: str,
        callback_url: str,
        ip: str | None = None,
        *,
        own_urls: Collection[str] = (),
    ) -> Started:
        """Store a new flow and answer the provider's authorization URL (each start stores a
        row, so starts count per address like login attempts).

        ``own_urls``: Bastion's own pages the flow may also return to (the explorer's path).
        """
        metadata = self._provider(name)
        await self._throttle.attempt(ip, LOGIN)
        allowed = redirect_url in metadata.config.redirect_urls or redirect_url in own_urls
        if not allowed:
            raise BadUserInput("redirect_url is not one of the provider's redirect_urls")
        if not _CHALLENGE.match(app_challenge):
            raise BadUserInput("code_challenge must be the S256 challenge of a verifier")
        endpoints = await metadata.endpoints()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, browser = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
        now = self._clock()
        flow = FlowRow(
            state_digest=_digest(state),
            provider=name,
            browser_digest=_digest(browser),
            nonce=nonce,
            verifier=verifier,
            redirect_url=redirect_url,
            app_challenge=app_challenge,
            callback_url=callback_url,
            expires_at=now + FLOW_LIFETIME,
        )
        async with self._store.db.write() as conn:
            await self._rows.add_flow(conn, flow, now)
        url = authorization_url(
            metadata.config,
            endpoints,
            callback_url,
            state=state,
            nonce=nonce if metadata.config.has_id_token else None,
            verifier=verifier,
        )
        return Started(url, browser)

    async def take_flow(self, name: str, state: str, browser_secret: str | None) -> FlowRow:
        """The flow ``state`` names, taken once; refused unless this browser started it."""
        async with self._store.db.write() as conn:
            flow = await self._rows.take_flow(conn, _digest(_text(state, "state")))
        if flow is None or flow.provider != name:
            raise SignInRefused("unknown state")
        if flow.expires_at <= self._clock():
            raise SignInRefused("expired")
        given = _digest(browser_secret or "")
        if not hmac.compare_digest(given, flow.browser_digest):
            raise SignInRefused("another browser")  # a state carried out of its browser
        return flow

    async def callback(
        self, flow: FlowRow, code: str, ip: str | None, *, user: str | None = None
    ) -> str:
        """Exchange the provider's ``code`` for the flow; the app's URL with a one-time code.

        ``user``: Apple's ``user`` form field, whose name joins the claims.
        """
        await self._throttle.attempt(ip, LOGIN)
        claims = await self._claims_of_code(
            flow.provider, code, flow.verifier, flow.callback_url, flow.nonce
        )
        named = apple_user(user) if user else None
        if named is not None:
            claims["user"] = named
        identity = OpenIdIdentity.of(provider_name(flow.provider), claims)
        one_time = secrets.token_urlsafe(32)
        now = self._clock()
        row = CodeRow(
            digest=_digest(one_time),
            provider=flow.provider,
            identity=identity.to_json(),
            app_challenge=flow.app_challenge,
            expires_at=now + CODE_LIFETIME,
        )
        async with self._store.db.write() as conn:
            await self._rows.add_code(conn, row, now)
        return f"{flow.redirect_url}#bastion_code={one_time}"

    async def exchange(
        self,
        code: str,
        verifier: str,
        client: LoginClient,
        viewer_user_id: str | None,
        *,
        link: bool = False,
    ) -> LoggedIn:
        """Sign in with a one-time code of the browser flow and the app's PKCE verifier."""
        await self._throttle.attempt(client.ip, LOGIN)
        async with self._store.db.write() as conn:
            row = await self._rows.take_code(conn, _digest(_text(code, "code")))
        if row is None or row.expires_at <= self._clock():
            raise SignInRefused("unknown code")
        if not hmac.compare_digest(_s256(_text(verifier, "codeVerifier")), row.app_challenge):
            raise SignInRefused("verifier")
        identity = OpenIdIdentity.from_json(row.identity)
        return await self._sign_in(row.provider, identity, client, viewer_user_id, link)

    # -- the app's own calls ----------------------------------------------------------------

    async def login(
        self,
        name: str,
        client: LoginClient,
        viewer_user_id: str | None,
        *,
        nonce: str | None = None,
        link: bool = False,
        id_token: str | None = None,
        code: str | None = None,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
    ) -> LoggedIn:
        """Sign in with an ID token, or an authorization code the app got itself."""
        self._provider(name)
        await self._throttle.attempt(client.ip, LOGIN)
        identity = await self.identify(
            name,
            nonce=nonce,
            id_token=id_token,
            code=code,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
        )
        return await self.finish(name, identity, client, viewer_user_id, link=link)

    async def identify(
        self,
        name: str,
        *,
        nonce: str | None = None,
        id_token: str | None = None,
        code: str | None = None,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
    ) -> OpenIdIdentity:
        """The person an ID token (with its nonce, taken once) or an authorization code
        (with its PKCE verifier and one of the provider's ``redirect_urls``) proves.
        Not throttled: the caller counts the attempt."""
        metadata = self._provider(name)
        config = metadata.config
        if not config.has_id_token and id_token is not None:
            raise BadUserInput("this provider has no ID tokens: send its code", field="idToken")
        if config.has_id_token:
            if nonce is None:
                raise BadUserInput(
                    "`nonce` is required by an OpenID Connect provider", field="nonce"
                )
            nonce = _text(nonce, "nonce")
        if id_token is not None:
            claims = await verify_id_token(
                _text(id_token, "idToken"), metadata, nonce or "", self._clock
            )
        else:
            if code is None or code_verifier is None or redirect_uri is None:
                raise BadUserInput("give idToken, or code with codeVerifier and redirectUri")
            if redirect_uri not in config.redirect_urls:
                raise BadUserInput("redirectUri is not one of the provider's redirect_urls")
            verifier = _text(code_verifier, "codeVerifier")
            claims = await self._claims_of_code(name, code, verifier, redirect_uri, nonce)
        if config.has_id_token:
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            used = _digest(f"{name}\0{claims['iss']}\0{nonce}")
            async with self._store.db.write() as conn:
                if not await self._rows.use_nonce(conn, used, expires, self._clock()):
                    raise IdTokenRefused("nonce used already")
        return OpenIdIdentity.of(provider_name(name), claims)

    async def _claims_of_code(
        self, name: str, code: str, verifier: str, redirect_uri: str, nonce: str | None
    ) -> dict[str, Any]:
        """Exchange ``code``: the ID token's claims (checked with ``nonce``), or a plain
        OAuth 2 provider's userinfo answer (read with the access token)."""
        metadata = self._provider(name)
        token = await exchange_code(
            metadata.config,
            await metadata.endpoints(),
            redirect_uri,
            code=_text(code, "code"),
            verifier=verifier,
        )
        if not metadata.config.has_id_token:
            return await read_userinfo(self._http, metadata.config, token)
        assert nonce is not None  # a flow always has one
        return await verify_id_token(token, metadata, nonce, self._clock)

    async def finish(
        self,
        name: str,
        identity: OpenIdIdentity,
        client: LoginClient,
        viewer_user_id: str | None,
        *,
        link: bool = False,
    ) -> LoggedIn:
        """Start the session of the user ``identity`` signs in as (made or linked by the rules
        of :mod:`bastion.auth.openid.accounts`)."""
        return await self._sign_in(name, identity, client, viewer_user_id, link)

    async def _sign_in(
        self,
        name: str,
        identity: OpenIdIdentity,
        client: LoginClient,
        viewer_user_id: str | None,
        link: bool,
    ) -> LoggedIn:
        if link and viewer_user_id is None:
            raise BastionError("Linking needs a logged-in user", Code.UNAUTHENTICATED)
        config = self._provider(name).config
        async with self._store.db.write() as conn:
            user_id = await self._accounts.resolve(
                conn,
                identity,
                self._fields[name],
                config.claims,
                viewer_user_id=viewer_user_id,
                link=link,
                signup=config.signup,
            )
            return await self._logins.start_in(conn, Start(user_id, identity.provider), client)

    async def aclose(self) -> None:
        """Close the HTTP client that reads the providers' documents."""
        await self._http.aclose()
