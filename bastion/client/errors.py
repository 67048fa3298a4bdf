"""What the client raises: a GraphQL error, an ended session, or an answer that is not GraphQL."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of the errors of the Bastion client."""


class GraphQLError(ClientError):
    """A GraphQL response with errors.

    ``message``, ``code`` (``extensions.code``), ``path`` and ``locations`` are those of the first
    error; ``errors`` holds them all, and ``data`` whatever part of the result did resolve.
    """

    def __init__(self, errors: list[dict[str, Any]], data: dict[str, Any] | None = None) -> None:
        first = errors[0] if errors else {}
        extensions = first.get("extensions")
        self.errors = errors
        self.data = data
        self.message: str = str(first.get("message", "GraphQL error"))
        self.code: str | None = extensions.get("code") if isinstance(extensions, dict) else None
        self.path: list[str | int] | None = first.get("path")
        self.locations: list[dict[str, int]] | None = first.get("locations")
        super().__init__(f"{self.message} ({self.code})" if self.code else self.message)


class SessionExpired(ClientError):
    """The session is over (refresh refused, logged out elsewhere, account deactivated).

    The client holds no token any more: log in again.
    """


class UnexpectedResponse(ClientError):
    """An answer that is not a GraphQL response, such as a proxy's 502 page."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(f"{message} (HTTP {status_code})")
        self.status_code = status_code
