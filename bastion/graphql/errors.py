"""Render GraphQL errors: ``message``, ``locations``, ``path`` and ``extensions.code``.

Errors raised on purpose (:class:`BastionError`) keep their message and code, and so do the
database's states that are not bugs (busy, unreachable, full: :func:`bastion.store.failures.
meaning`). Anything else is a bug: it is logged with its traceback and the client sees only
"Internal server error".
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError

from bastion.errors import BastionError, Code
from bastion.store.failures import known_state

log = logging.getLogger("bastion.graphql")

INTERNAL_MESSAGE = "Internal server error"


def format_error(error: GraphQLError, default_code: Code) -> dict[str, Any]:
    """The JSON form of one error; ``default_code`` is used for errors graphql-core made."""
    formatted: dict[str, Any] = {"message": error.message}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    if error.path is not None:
        formatted["path"] = list(error.path)
    original = error.original_error
    extensions: dict[str, Any] = dict(error.extensions or {})
    if original is not None and not isinstance(original, (BastionError, GraphQLError)):
        original = known_state(original) or original
    if isinstance(original, BastionError):
        formatted["message"] = original.message
        extensions = {**extensions, **original.extensions, "code": original.code.value}
    elif original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error at %s", error.path, exc_info=original)
        formatted["message"] = INTERNAL_MESSAGE
        extensions = {"code": Code.INTERNAL_SERVER_ERROR.value}
    else:
        extensions.setdefault("code", default_code.value)
    formatted["extensions"] = extensions
    return formatted


def request_error(message: str, code: Code = Code.BAD_REQUEST, **extensions: Any) -> dict[str, Any]:
    """An error about the request as a whole (no path): a bad body, a missing query."""
    return {"message": message, "extensions": {**extensions, "code": code.value}}


def refusal(error: BastionError) -> dict[str, Any]:
    """A :class:`BastionError` that refuses the whole request, as a request error."""
    return request_error(error.message, error.code, **error.extensions)
