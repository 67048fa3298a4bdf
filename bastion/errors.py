"""Errors as values with stable codes.

Every error a user can cause is a :class:`BastionError` with a code from :class:`Code`. It is
raised once where it is known and rendered once at the edge (the GraphQL response, the CLI).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Stable error codes, used as ``extensions.code`` in GraphQL errors."""

    BAD_USER_INPUT = "BAD_USER_INPUT"
    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - an error code
    INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN"  # noqa: S105 - an error code
    PROJECT_INVALID = "PROJECT_INVALID"
    SCHEMA_CHANGE_REFUSED = "SCHEMA_CHANGE_REFUSED"
    FUNCTION_FAILED = "FUNCTION_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    # A login proven but for its second factor: `extensions.challenge` completes it.
    MFA_REQUIRED = "MFA_REQUIRED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"
    # The server cannot take the request now (the database is busy or unreachable, the write
    # queue is full); the same request may succeed later: ``extensions.retryAfter`` seconds.
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # The database's disk is full: nothing was written; an operator must make room.
    STORAGE_FULL = "STORAGE_FULL"
    # Accounts by email (bastion.auth.email, bastion.mail).
    MAIL_NOT_CONFIGURED = "MAIL_NOT_CONFIGURED"
    INVALID_EMAIL_TOKEN = "INVALID_EMAIL_TOKEN"  # noqa: S105 - an error code
    EMAIL_NOT_CONFIRMED = "EMAIL_NOT_CONFIRMED"
    # The signing keys in the database were sealed with another server secret (or app id).
    SERVER_SECRET_MISMATCH = "SERVER_SECRET_MISMATCH"  # noqa: S105 - an error code


class BastionError(Exception):
    """An error with a stable code and a message that is safe to show to the client."""

    code: Code = Code.BAD_REQUEST

    def __init__(self, message: str, code: Code | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extensions: dict[str, Any] = extensions


class BadUserInput(BastionError):
    """The request's arguments do not fit (a bad value, a missing field)."""

    code = Code.BAD_USER_INPUT


class NotFound(BastionError):
    """The node an update or delete names does not exist."""

    code = Code.NOT_FOUND


class Conflict(BastionError):
    """A write would break a unique constraint or a required relation."""

    code = Code.CONFLICT


class Unavailable(BastionError):
    """The request cannot be served now, and nothing of it was kept; retry after a while."""

    code = Code.SERVICE_UNAVAILABLE

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class StorageFull(BastionError):
    """The database has no room left for a write; nothing of the request was kept."""

    code = Code.STORAGE_FULL


class SourceLocation:
    """A place in a project file, printed as ``file:line:column``."""

    __slots__ = ("column", "file", "line")

    def __init__(self, file: str, line: int, column: int) -> None:
        self.file = file
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ProjectError(BastionError):
    """The project folder is invalid: one or more problems, each with its place."""

    code = Code.PROJECT_INVALID

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class SchemaChangeRefused(BastionError):
    """The database holds data that the new model would drop or change."""

    code = Code.SCHEMA_CHANGE_REFUSED

    def __init__(self, changes: list[str]) -> None:
        super().__init__("\n".join(changes))
        self.changes = changes
