"""The GraphQL side of the client: the auth documents, and how a response is read.

Shared by the sync and async clients and by :class:`~bastion.client.auth.BastionAuth`, so each
rule (what an error looks like, what says "your token was refused") has one home.
"""

from __future__ import annotations

from typing import Any

import httpx

from bastion.client.errors import GraphQLError, UnexpectedResponse

_PAIR = "accessToken accessTokenLifetime refreshToken refreshTokenLifetime"

LOGIN_EMAIL_PASSWORD = f"""
mutation BastionLogin($email: String!, $password: String!) {{
  loginEmailPassword(input: {{email: $email, password: $password}}) {{ {_PAIR} }}
}}"""
REGISTER = f"""
mutation BastionRegister($email: String!, $password: String!, $firstName: String,
                         $lastName: String, $username: String) {{
  registerUserEmailPassword(input: {{email: $email, password: $password, firstName: $firstName,
                                     lastName: $lastName, username: $username}}) {{ {_PAIR} }}
}}"""
LOGIN_USER = """
query BastionLoginUser($email: String, $username: String, $password: String!) {
  loginUser(email: $email, username: $username, password: $password) { id email }
}"""
REFRESH = f"""
mutation BastionRefresh($refreshToken: String!) {{
  refreshToken(input: {{refreshToken: $refreshToken}}) {{ {_PAIR} }}
}}"""
LOGOUT = """
mutation BastionLogout($refreshToken: String!) { logout(input: {refreshToken: $refreshToken}) }"""
LOGOUT_ALL = "mutation BastionLogoutAll { logoutAll }"
VIEWER = "query BastionViewer { viewer { user { id email username firstName lastName } } }"

UNAUTHENTICATED = "UNAUTHENTICATED"


def request_body(
    query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
) -> dict[str, Any]:
    """The JSON body of a GraphQL POST."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    return body


def refresh_request(url: httpx.URL | str, refresh_token: str) -> httpx.Request:
    """The ``refreshToken`` mutation, as a request an auth flow can yield."""
    return httpx.Request("POST", url, json=request_body(REFRESH, {"refreshToken": refresh_token}))


def response_body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a GraphQL response; raises UnexpectedResponse for anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ("data" in body or "errors" in body):
        raise UnexpectedResponse(
            "The server did not answer a GraphQL response", response.status_code
        )
    return body


def response_data(response: httpx.Response) -> dict[str, Any]:
    """``data`` of a GraphQL response; raises GraphQLError when it has errors."""
    body = response_body(response)
    errors = body.get("errors")
    data = body.get("data")
    if errors:
        raise GraphQLError(list(errors), data if isinstance(data, dict) else None)
    if not isinstance(data, dict):
        raise UnexpectedResponse("The GraphQL response has no data", response.status_code)
    return data


def token_refused(response: httpx.Response) -> bool:
    """Whether the server ran a request as anonymous because its token was no good.

    Bastion says so in the top-level ``extensions.authentication``; a field answering
    ``UNAUTHENTICATED`` to a request that carried a token means the same to other servers.
    """
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    extensions = body.get("extensions")
    if isinstance(extensions, dict) and extensions.get("authentication"):
        return True
    errors = body.get("errors")
    return isinstance(errors, list) and any(
        isinstance(error, dict)
        and isinstance(error.get("extensions"), dict)
        and error["extensions"].get("code") == UNAUTHENTICATED
        for error in errors
    )


def bearer_token(header: str | None) -> str | None:
    """The token of a ``Bearer <token>`` header value (scheme case-insensitive), if any."""
    scheme, _, token = (header or "").strip().partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def renewed_token(response: httpx.Response) -> str | None:
    """The access token the server renewed in the ``X-Authorization`` response header."""
    return bearer_token(response.headers.get("x-authorization"))
