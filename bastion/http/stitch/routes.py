"""The MongoDB Stitch / Realm client HTTP API, under ``/api/client/v2.0``.

Routes, bodies and status codes follow ../shared/stitch-contract.md, read from the SDKs
(realm-web 2.0.1, mongodb-stitch-server-sdk 4.9.0), so that apps written for them work
against Bastion unchanged. The logins and key management are those of the GraphQL fields
(:mod:`bastion.auth.logins`, :mod:`bastion.auth.providers.api_keys`); only the shapes differ.

Which token each route takes is the contract's: the access token for the profile, GraphQL and
function calls (:mod:`bastion.http.stitch.functions`), the refresh token (a session token
here) for ``/auth/session`` and the API key routes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bastion.auth.accounts import NewUser
from bastion.auth.authenticate import Authentication, bearer_token
from bastion.auth.events import UsersChanged
from bastion.auth.identities import PASSWORD, PROVIDERS
from bastion.auth.logins import LoggedIn, LoginClient, ProviderDisabled
from bastion.auth.providers.api_keys import ApiKey
from bastion.auth.session_tokens import SessionOwner
from bastion.auth.sessions import RefreshRefused
from bastion.auth.throttle import LOGIN
from bastion.errors import BastionError, Code
from bastion.http.bodies import BodyError, json_object, read_body
from bastion.http.caller import caller_of
from bastion.http.graphql_http import GraphQLEndpoint
from bastion.http.stitch.errors import (
    JSON,
    StitchError,
    error_response,
    from_bastion,
    invalid_session,
)
from bastion.http.stitch.functions import FunctionCalls
from bastion.http.stitch.oauth import StitchOAuth, is_oauth
from bastion.http.stitch.userpass import UserpassRoutes
from bastion.mail.locales import accepted
from bastion.project.service import Service
from bastion.store.failures import known_state
from bastion.store.ids import NULL_ID, is_id

PREFIX = "/api/client/v2.0"
MAX_BODY_BYTES = 65_536

log = logging.getLogger("bastion.http")

Handler = Callable[[Request], Awaitable[Response]]


def _ok(body: Any, status: int = 200) -> Response:
    # Every answer may carry a token or a user's data: no cache may keep it.
    return JSONResponse(
        body, status_code=status, media_type=JSON, headers={"Cache-Control": "no-store"}
    )


def _no_content() -> Response:
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


def _device_id(body: dict[str, Any]) -> str | None:
    """``options.device.deviceId``: a string (Stitch) or ``{"$oid": ...}`` (realm-web)."""
    options = body.get("options")
    device = options.get("device") if isinstance(options, dict) else None
    value = device.get("deviceId") if isinstance(device, dict) else None
    if isinstance(value, dict):
        value = value.get("$oid")
    # Anything else, and the all-zero id of a new device, gets a fresh id from the session.
    return value if is_id(value) and value != NULL_ID else None


def _client(request: Request, body: dict[str, Any]) -> LoginClient:
    """The client facts of a Stitch login (its device id comes in the body)."""
    caller = caller_of(request)
    return LoginClient(
        user_agent=caller.user_agent, device_id=_device_id(body), stitch=True, ip=caller.ip
    )


def _login_answer(logged_in: LoggedIn) -> Response:
    return _ok(
        {
            "access_token": logged_in.tokens.access_token,
            "refresh_token": logged_in.tokens.refresh_token,
            "user_id": logged_in.user_id,
            "device_id": logged_in.tokens.device_id,
        }
    )


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {"_id": key.id, "name": key.name, "disabled": key.disabled}


def _unmatched(routes: list[Route]) -> Handler:
    """404 for a path no route has, 405 for a method its routes do not take, as Stitch errors
    (Starlette's own answers are plain text, which the SDKs cannot read)."""

    async def endpoint(request: Request) -> Response:
        path = request.url.path
        allowed = sorted({m for r in routes if r.path_regex.match(path) for m in r.methods or ()})
        if allowed:
            error = StitchError(
                405,
                "MethodNotAllowed",
                f"{request.method} is not allowed here",
                {"Allow": ", ".join(allowed)},
            )
        else:
            error = StitchError(404, "NotFound", "no such route")
        return error_response(error)

    return endpoint


class StitchApi:
    """The handlers of one project."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._auth = service.auth
        self._app_id = service.project.config.app_id
        self.graphql = GraphQLEndpoint(
            service.executor,
            service.auth.authenticator.authenticate,
            max_body_bytes=service.project.config.http.max_body_bytes,
            on_refused_token=lambda _auth: error_response(invalid_session()),
        )
        self.oauth = StitchOAuth(service.auth.openid, self._app_id)
        self.functions = FunctionCalls(
            service.functions, self._viewer, service.project.config.http.max_body_bytes
        )

    # -- plumbing ---------------------------------------------------------------------

    def _route(self, path: str, handler: Handler, methods: list[str], app: bool = False) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                if app and request.path_params["app_id"] != self._app_id:
                    raise StitchError(
                        404,
                        "AppNotFound",
                        f"cannot find app using Client App ID '{request.path_params['app_id']}'",
                    )
                return await handler(request)
            except StitchError as error:
                return error_response(error)
            except BodyError as error:
                return error_response(StitchError(error.status, "BadRequest", error.message))
            except BastionError as error:
                return error_response(self._translate(request, error))
            except Exception as error:
                known = known_state(error)
                if known is not None:
                    return error_response(from_bastion(known))
                # A bug, not the client's fault: log it whole, answer without internals.
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return error_response(
                    StitchError(500, "InternalServerError", "internal server error")
                )

        return Route(PREFIX + path, endpoint, methods=methods)

    @staticmethod
    def _translate(request: Request, error: BastionError) -> StitchError:
        if "/auth/api_keys" in request.url.path:
            return from_bastion(error, CONFLICT="APIKeyAlreadyExists", NOT_FOUND="APIKeyNotFound")
        if (
            request.path_params.get("provider") == PASSWORD
            and error.code is Code.INVALID_CREDENTIALS
        ):
            return StitchError(401, "InvalidPassword", "invalid username/password")
        return from_bastion(error, CONFLICT="AccountNameInUse", NOT_FOUND="UserNotFound")

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await read_body(request, MAX_BODY_BYTES)
        return json_object(raw) if raw.strip() else {}

    async def _viewer(self, request: Request) -> Authentication:
        """The caller of an access-token route; 401 InvalidSession for a missing or bad token."""
        auth = await self._auth.authenticator.authenticate(request.headers.get("authorization"))
        if auth.refused or auth.viewer.user_id is None:
            raise invalid_session()
        return auth

    async def _session(self, request: Request) -> tuple[str, SessionOwner]:
        """The session token of a refresh-token route, and its live session."""
        token = bearer_token(request.headers.get("authorization")) or ""
        try:
            return token, await self._auth.session_tokens.owner(token)
        except RefreshRefused:
            raise invalid_session("invalid refresh token") from None

    # -- app routes -------------------------------------------------------------------

    async def location(self, request: Request) -> Response:
        hostname = str(request.base_url).rstrip("/")
        return _ok(
            {
                "deployment_model": "GLOBAL",
                "location": "LOCAL",
                "hostname": hostname,
                "ws_hostname": "ws" + hostname.removeprefix("http"),
            }
        )

    async def login(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        if is_oauth(provider):
            return await self._oauth_login(request, provider)
        if provider not in PROVIDERS or not self._auth.logins.providers.enabled(provider):
            raise from_bastion(ProviderDisabled(provider))
        body = await self._body(request)
        logins = self._auth.logins
        if request.query_params.get("link") == "true":
            auth = await self._viewer(request)
            assert auth.viewer.user_id is not None and auth.viewer.session_id is not None
            await logins.link(auth.viewer.user_id, provider, body, _client(request, body))
            self._auth.events.publish(UsersChanged())  # the user's row (its email) may have changed
            access = await self._auth.sessions.access_token(auth.viewer.session_id)
            if access is None:
                raise invalid_session()
            state = await self._auth.sessions.state(auth.viewer.session_id)
            device = state.extra.get("baas_device_id", NULL_ID) if state else NULL_ID
            return _ok(
                {"user_id": auth.viewer.user_id, "access_token": access, "device_id": device}
            )
        logged_in = await logins.login(provider, body, _client(request, body))
        return _login_answer(logged_in)

    async def _oauth_login(self, request: Request, provider: str) -> Response:
        """``{"id_token"}`` of an OAuth 2 provider (:mod:`bastion.http.stitch.oauth`)."""
        body = await self._body(request)
        viewer_user_id: str | None = None
        link = request.query_params.get("link") == "true"
        if link:
            viewer_user_id = (await self._viewer(request)).viewer.user_id
        logged_in = await self.oauth.login(
            provider, body, _client(request, body), viewer_user_id, link
        )
        if link:
            self._auth.events.publish(UsersChanged())
        return _login_answer(logged_in)

    async def oauth_start(self, request: Request) -> Response:
        """``GET …/auth/providers/oauth2-<name>/login?redirect=…``: realm-web's redirect flow."""
        provider = request.path_params["provider"]
        if not is_oauth(provider):
            raise StitchError(405, "MethodNotAllowed", "GET is not allowed here", {"Allow": "POST"})
        return await self.oauth.start(request, provider)

    async def oauth_callback(self, request: Request) -> Response:
        """Where the providers send the browser back, for every OAuth 2 provider."""
        return await self.oauth.callback(request)

    async def complete_mfa(self, request: Request) -> Response:
        """``{"challenge", "code"}``: the session a login answered ``MfaRequired`` for."""
        body = await self._body(request)
        challenge, code = body.get("challenge"), body.get("code")
        if not isinstance(challenge, str) or not isinstance(code, str):
            raise StitchError(400, "InvalidParameter", "`challenge` and `code` are strings")
        client = _client(request, body)
        return _login_answer(await self._auth.logins.complete_mfa(challenge, code, client))

    async def register(self, request: Request) -> Response:
        body = await self._body(request)
        email, password = body.get("email"), body.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            raise StitchError(400, "InvalidParameter", "email and password must be strings")
        new = NewUser(email=email, password=password)
        languages = accepted(request.headers.get("accept-language"))
        # With confirmation on, the confirmation mail is queued with the new user.
        await self._auth.email.register(new, _client(request, body), languages, log_in=False)
        return _ok({}, 201)

    def _userpass(self, handler: Callable[[Request, dict[str, Any]], Awaitable[None]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            await handler(request, await self._body(request))
            return _ok({})

        return endpoint

    async def graphql_route(self, request: Request) -> Response:
        return await self.graphql.handle(request)

    # -- session routes ---------------------------------------------------------------

    async def profile(self, request: Request) -> Response:
        auth = await self._viewer(request)
        user_id = auth.viewer.user_id
        assert user_id is not None and auth.viewer.session_id is not None
        state = await self._auth.sessions.state(auth.viewer.session_id)
        user = state.user if state is not None else {}
        async with self._service.store.db.read() as conn:
            identities = await self._auth.identities.of(conn, user_id)
        server = any(
            i.provider == "api-key" and i.subject.startswith("server:") for i in identities
        )
        data = {
            key: user.get(field)
            for key, field in (
                ("email", "email"),
                ("first_name", "firstName"),
                ("last_name", "lastName"),
                ("name", "username"),
            )
            if user.get(field) is not None
        }
        return _ok(
            {
                "user_id": user_id,
                "domain_id": self._app_id,
                "type": "server" if server else "normal",
                "identities": [
                    {"id": i.id, "provider_type": i.provider, "provider_id": i.provider}
                    for i in identities
                ],
                "data": data,
            }
        )

    async def refresh(self, request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization")) or ""
        ip = caller_of(request).ip
        await self._auth.throttle.attempt(ip, LOGIN)
        try:
            access = await self._auth.session_tokens.refresh(token, ip)
        except RefreshRefused:
            raise invalid_session("invalid refresh token") from None
        return _ok({"access_token": access}, 201)

    async def logout(self, request: Request) -> Response:
        token = bearer_token(request.headers.get("authorization")) or ""
        # Logging out twice is not an error: the SDKs forget their tokens either way.
        await self._auth.session_tokens.end_any(token)
        return _no_content()

    # -- the user's API keys ----------------------------------------------------------

    async def list_keys(self, request: Request) -> Response:
        _, owner = await self._session(request)
        return _ok([_key_json(k) for k in await self._auth.api_keys.list_for(owner.user_id)])

    async def create_key(self, request: Request) -> Response:
        _, owner = await self._session(request)
        if not self._auth.logins.providers.enabled("api-key"):
            raise from_bastion(ProviderDisabled("api-key"))
        body = await self._body(request)
        name = body.get("name")
        if not isinstance(name, str):
            raise StitchError(400, "InvalidParameter", "name must be a string")
        new = await self._auth.api_keys.create_for(owner.user_id, name)
        return _ok({**_key_json(new.key), "key": new.secret}, 201)

    async def get_key(self, request: Request) -> Response:
        _, owner = await self._session(request)
        key = await self._auth.api_keys.get_for(owner.user_id, request.path_params["key_id"])
        return _ok(_key_json(key))

    async def delete_key(self, request: Request) -> Response:
        _, owner = await self._session(request)
        await self._auth.api_keys.delete_for(owner.user_id, request.path_params["key_id"])
        return _no_content()

    async def enable_key(self, request: Request) -> Response:
        _, owner = await self._session(request)
        await self._auth.api_keys.set_disabled_for(
            owner.user_id, request.path_params["key_id"], False
        )
        return _no_content()

    async def disable_key(self, request: Request) -> Response:
        _, owner = await self._session(request)
        await self._auth.api_keys.set_disabled_for(
            owner.user_id, request.path_params["key_id"], True
        )
        return _no_content()

    # -- the route table --------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """Every route of the API."""
        app = "/app/{app_id}"
        keys = "/auth/api_keys"
        routes = [
            self._route(f"{app}/location", self.location, ["GET"], app=True),
            self._route(
                f"{app}/auth/providers/local-userpass/register", self.register, ["POST"], app=True
            ),
            self._route(f"{app}/auth/providers/{{provider}}/login", self.login, ["POST"], app=True),
            self._route(
                f"{app}/auth/providers/{{provider}}/login", self.oauth_start, ["GET"], app=True
            ),
            self._route("/auth/callback", self.oauth_callback, ["GET"]),
            *(
                self._route(
                    f"{app}/auth/providers/local-userpass/{action}",
                    self._userpass(handler),
                    ["POST"],
                    app=True,
                )
                for action, handler in UserpassRoutes(self._auth, self._service.functions)
                .actions()
                .items()
            ),
            self._route(f"{app}/auth/mfa/complete", self.complete_mfa, ["POST"], app=True),
            self._route(f"{app}/graphql", self.graphql_route, ["GET", "POST"], app=True),
            self._route(f"{app}/functions/call", self.functions.call, ["POST"], app=True),
            self._route(f"{app}/functions/call", self.functions.stream, ["GET"], app=True),
            self._route("/auth/profile", self.profile, ["GET"]),
            self._route("/auth/session", self.refresh, ["POST"]),
            self._route("/auth/session", self.logout, ["DELETE"]),
            self._route(keys, self.list_keys, ["GET"]),
            self._route(keys, self.create_key, ["POST"]),
            self._route(f"{keys}/{{key_id}}", self.get_key, ["GET"]),
            self._route(f"{keys}/{{key_id}}", self.delete_key, ["DELETE"]),
            self._route(f"{keys}/{{key_id}}/enable", self.enable_key, ["PUT"]),
            self._route(f"{keys}/{{key_id}}/disable", self.disable_key, ["PUT"]),
        ]
        # Last: whatever the routes above do not answer still gets an error the SDKs parse.
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return [*routes, Route(PREFIX + "/{rest:path}", _unmatched(routes), methods=methods)]
