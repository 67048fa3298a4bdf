"""``Client`` and ``AsyncClient``: log in once, then query; tokens take care of themselves.

The two classes say the same things, one with ``await``: each method builds a document from
:mod:`bastion.client.protocol`, sends it (with :class:`BastionAuth` when it needs the session)
and reads the answer with the shared helpers below. Logins and refreshes go without the auth,
so that an old token is neither sent nor refreshed on the way to a new session.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from bastion.client.auth import BastionAuth
from bastion.client.errors import UnexpectedResponse
from bastion.client.protocol import (
    LOGIN_EMAIL_PASSWORD,
    LOGIN_USER,
    LOGOUT,
    LOGOUT_ALL,
    REGISTER,
    VIEWER,
    bearer_token,
    request_body,
    response_data,
)
from bastion.client.stores import TokenStore
from bastion.client.tokens import TokenSet
from bastion.tools.clock import Clock, system_clock

DEFAULT_TIMEOUT = 30.0
_NO_AUTH = httpx.Auth()  # sends a request as it is


def _register_variables(
    email: str, password: str, first_name: str | None, last_name: str | None, username: str | None
) -> dict[str, Any]:
    return {
        "email": email,
        "password": password,
        "firstName": first_name,
        "lastName": last_name,
        "username": username,
    }


def _login_user_variables(email: str | None, username: str | None, password: str) -> dict[str, Any]:
    return {"email": email, "username": username, "password": password}


def _header_session(response: httpx.Response, now: datetime) -> TokenSet:
    # loginUser answers its access token only in the response headers, with no refresh token.
    token = bearer_token(response.headers.get("x-authorization")) or bearer_token(
        response.headers.get("authorization")
    )
    if token is None:
        raise UnexpectedResponse("loginUser answered no token header", response.status_code)
    return TokenSet.issued(token, now)


class Client:
    """A synchronous Bastion client on ``httpx.Client``.

    ``url`` is the GraphQL endpoint. ``store`` keeps the tokens (in memory by default; a
    :class:`~bastion.client.FileTokenStore` keeps a command-line tool logged in). Pass ``http``
    to use your own httpx client (it is then yours to close). Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        store: TokenStore | None = None,
        *,
        http: httpx.Client | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.url = url
        self.auth = BastionAuth(store, refresh_url=url, clock=clock)
        self._http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._owns_http = http is None

    def _post(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, auth: bool
    ) -> httpx.Response:
        return self._http.post(
            self.url,
            json=request_body(query, variables, operation_name),
            auth=self.auth if auth else _NO_AUTH,
        )

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """Run a GraphQL document as the logged-in user (or anonymously); its ``data``.

        Raises GraphQLError when the response has errors, SessionExpired when the session is
        over.
        """
        return response_data(self._post(query, variables, operation_name, auth=True))

    def viewer(self) -> dict[str, Any] | None:
        """The logged-in user (``id``, ``email``, ``username``, names), or None."""
        user: dict[str, Any] | None = self.execute(VIEWER)["viewer"]["user"]
        return user

    def login_email_password(self, email: str, password: str) -> None:
        """Log in with an email and a password; raises GraphQLError INVALID_CREDENTIALS."""
        variables = {"email": email, "password": password}
        data = response_data(self._post(LOGIN_EMAIL_PASSWORD, variables, None, auth=False))
        self.auth.use(TokenSet.from_payload(data["loginEmailPassword"], self.auth.clock()))

    def register(
        self,
        email: str,
        password: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        """Sign up (when the project allows it) and log in as the new user."""
        variables = _register_variables(email, password, first_name, last_name, username)
        data = response_data(self._post(REGISTER, variables, None, auth=False))
        self.auth.use(TokenSet.from_payload(data["registerUserEmailPassword"], self.auth.clock()))

    def login_user(
        self, *, password: str, email: str | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """Log in by email or username with ``loginUser``; the user's ``id`` and ``email``.

        That API gives an access token only; the server renews it while requests keep coming,
        and when it lapses the next request raises SessionExpired.
        """
        variables = _login_user_variables(email, username, password)
        response = self._post(LOGIN_USER, variables, None, auth=False)
        user: dict[str, Any] = response_data(response)["loginUser"]
        self.auth.use(_header_session(response, self.auth.clock()))
        return user

    def login_with_root_token(self, token: str) -> None:
        """Act with a project's root token: sent as it is, never refreshed."""
        self.auth.use(TokenSet.root_token(token))

    def refresh(self) -> None:
        """Refresh the tokens now (the client does it by itself when needed)."""
        self.auth.sync_refresh(lambda request: self._http.send(request, auth=_NO_AUTH), self.url)

    def logout(self) -> bool:
        """End this session on the server and forget its tokens; whether the server ended one."""
        tokens = self.auth.tokens
        try:
            if tokens is None or tokens.refresh_token is None:
                return False
            variables = {"refreshToken": tokens.refresh_token}
            return bool(response_data(self._post(LOGOUT, variables, None, auth=False))["logout"])
        finally:
            self.auth.forget()

    def logout_all(self) -> bool:
        """End every session of the logged-in user, this one included."""
        try:
            return bool(self.execute(LOGOUT_ALL)["logoutAll"])
        finally:
            self.auth.forget()

    def close(self) -> None:
        """Close the connections (unless the httpx client was given)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of :class:`Client`, on ``httpx.AsyncClient``; share it between tasks."""

    def __init__(
        self,
        url: str,
        store: TokenStore | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.url = url
        self.auth = BastionAuth(store, refresh_url=url, clock=clock)
        self._http = http if http is not None else httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        self._owns_http = http is None

    async def _post(
        self, query: str, variables: dict[str, Any] | None, operation_name: str | None, auth: bool
    ) -> httpx.Response:
        return await self._http.post(
            self.url,
            json=request_body(query, variables, operation_name),
            auth=self.auth if auth else _NO_AUTH,
        )

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """Run a GraphQL document as the logged-in user (or anonymously); its ``data``.

        Raises GraphQLError when the response has errors, SessionExpired when the session is
        over.
        """
        return response_data(await self._post(query, variables, operation_name, auth=True))

    async def viewer(self) -> dict[str, Any] | None:
        """The logged-in user (``id``, ``email``, ``username``, names), or None."""
        user: dict[str, Any] | None = (await self.execute(VIEWER))["viewer"]["user"]
        return user

    async def login_email_password(self, email: str, password: str) -> None:
        """Log in with an email and a password; raises GraphQLError INVALID_CREDENTIALS."""
        variables = {"email": email, "password": password}
        data = response_data(await self._post(LOGIN_EMAIL_PASSWORD, variables, None, auth=False))
        self.auth.use(TokenSet.from_payload(data["loginEmailPassword"], self.auth.clock()))

    async def register(
        self,
        email: str,
        password: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> None:
        """Sign up (when the project allows it) and log in as the new user."""
        variables = _register_variables(email, password, first_name, last_name, username)
        data = response_data(await self._post(REGISTER, variables, None, auth=False))
        self.auth.use(TokenSet.from_payload(data["registerUserEmailPassword"], self.auth.clock()))

    async def login_user(
        self, *, password: str, email: str | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """Log in by email or username with ``loginUser``; the user's ``id`` and ``email``."""
        variables = _login_user_variables(email, username, password)
        response = await self._post(LOGIN_USER, variables, None, auth=False)
        user: dict[str, Any] = response_data(response)["loginUser"]
        self.auth.use(_header_session(response, self.auth.clock()))
        return user

    def login_with_root_token(self, token: str) -> None:
        """Act with a project's root token: sent as it is, never refreshed."""
        self.auth.use(TokenSet.root_token(token))

    async def refresh(self) -> None:
        """Refresh the tokens now (the client does it by itself when needed)."""

        async def send(request: httpx.Request) -> httpx.Response:
            return await self._http.send(request, auth=_NO_AUTH)

        await self.auth.async_refresh(send, self.url)

    async def logout(self) -> bool:
        """End this session on the server and forget its tokens; whether the server ended one."""
        tokens = self.auth.tokens
        try:
            if tokens is None or tokens.refresh_token is None:
                return False
            variables = {"refreshToken": tokens.refresh_token}
            data = response_data(await self._post(LOGOUT, variables, None, auth=False))
            return bool(data["logout"])
        finally:
            self.auth.forget()

    async def logout_all(self) -> bool:
        """End every session of the logged-in user, this one included."""
        try:
            return bool((await self.execute(LOGOUT_ALL))["logoutAll"])
        finally:
            self.auth.forget()

    async def aclose(self) -> None:
        """Close the connections (unless the httpx client was given)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
