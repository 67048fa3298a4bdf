"""The ``functions:`` section of ``bastion.yml``: Python handlers the project brings.

Each entry is keyed by the function's name and is one of three kinds: a *resolver* (``schema``
extends ``Query`` or ``Mutation`` with the one field it resolves), a *hook* (``hook:
before|after`` on an ``operation`` such as ``Movie.create``), or a *callable* function
(``callable: true``) that clients call by name over the Stitch API, outside GraphQL::

    functions:
      loginWithCode:
        handler: passwordless:login_with_code
        schema: "extend type Mutation { loginWithCode(email: String!, code: String!): ... }"
      stampMovie:
        handler: hooks:stamp
        hook: before
        operation: Movie.create
      sum:
        handler: maths:sum
        callable: true
        run_as: caller          # its api documents run as the caller (the default), or system
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bastion.tools.section import Section

OPERATIONS = ("create", "update", "delete")
# `package.module:function`, every part a Python identifier.
_HANDLER = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)
_OPERATION = re.compile(r"([A-Za-z_]\w*)\.(create|update|delete)", re.ASCII)
DEFAULT_ACCOUNT_ARGUMENTS = ("email", "username")
"""The arguments a credential function is throttled by when ``throttle_by`` is not given."""
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", re.ASCII)


class FunctionConfig(Section):
    """One entry of ``functions:``."""

    handler: str
    schema_sdl: Annotated[str | None, Field(alias="schema", min_length=1)] = None
    hook: Literal["before", "after"] | None = None
    operation: str | None = None
    # A resolver that takes a credential (a code, a password): one per document, like logins,
    # and throttled like them, per client IP and per account.
    credential: bool = False
    # The argument that names the account a credential attempt is counted against: by
    # default `email`, else `username`, when the field has one; null counts per IP only.
    throttle_by: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    # Clients may call it by name (POST .../functions/call); it is in no GraphQL schema.
    callable: bool = False
    # Whom a callable function's `api` documents run as: `caller`, under the caller's
    # permission rules, or `system`, the functions' root, as resolvers' and hooks' do.
    run_as: Literal["caller", "system"] = "caller"
    # Called by Bastion itself, never by clients: `reset_password` decides the password resets
    # asked through Stitch's reset/call (realm-web's callResetPasswordFunction); `confirm_user`
    # confirms new email/password accounts (Stitch's custom confirmation function).
    auth: Literal["reset_password", "confirm_user"] | None = None

    @field_validator("handler")
    @classmethod
    def _handler_path(cls, value: str) -> str:
        if not _HANDLER.fullmatch(value):
            raise ValueError(
                "expected module:function, like passwordless:login_with_code "
                "(a Python module in the project folder, and a function in it)"
            )
        return value

    @field_validator("operation")
    @classmethod
    def _operation_shape(cls, value: str | None) -> str | None:
        if value is not None and not _OPERATION.fullmatch(value):
            raise ValueError(f"expected Type.{'|'.join(OPERATIONS)}, like Movie.create")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FunctionConfig:
        if "throttle_by" in self.model_fields_set and not self.credential:
            raise ValueError("throttle_by is for resolvers with credential: true")
        if "run_as" in self.model_fields_set and not self.callable:
            raise ValueError(
                "run_as is for callable functions (resolvers and hooks run their api "
                "documents as the functions' root)"
            )
        hook = self.hook is not None or self.operation is not None
        if self.auth is not None:
            if self.callable or self.schema_sdl is not None or hook or self.credential:
                raise ValueError(
                    f"auth: {self.auth} is called by Bastion itself: give it no schema, hook, "
                    "operation, callable or credential"
                )
            return self
        if self.callable:
            if self.schema_sdl is not None or hook:
                raise ValueError(
                    "a callable function is called by name, outside GraphQL: give either "
                    "callable: true, schema (a resolver) or hook and operation (a hook), "
                    "not several"
                )
            if self.credential:
                # A callable function already needs the caller's access token: it is no
                # login, and the login throttles count per login field, not per call.
                raise ValueError(
                    "credential: true is for resolvers, not callable functions (a callable "
                    "function is called with an access token: it is no login)"
                )
        elif self.schema_sdl is not None:
            if hook:
                raise ValueError(
                    "give either schema (a resolver) or hook and operation (a hook), not both"
                )
        elif self.credential:
            raise ValueError("credential: true is for resolvers (it needs schema)")
        elif self.hook is None or self.operation is None:
            raise ValueError(
                "a function needs schema (a resolver), both hook and operation (a hook), "
                "or callable: true (a function clients call by name), or auth: reset_password "
                "or confirm_user (a function Bastion calls itself)"
            )
        return self

    @property
    def runs_as_caller(self) -> bool:
        """Whether a callable function's ``api`` documents run as its caller."""
        return self.callable and self.run_as == "caller"

    def account_argument(self, arguments: Collection[str]) -> str | None:
        """The argument of the field (named ``arguments``) that names the account, or None."""
        if "throttle_by" in self.model_fields_set:
            return self.throttle_by
        return next((name for name in DEFAULT_ACCOUNT_ARGUMENTS if name in arguments), None)

    @property
    def type_name(self) -> str | None:
        """The type a hook watches (``Movie`` of ``Movie.create``)."""
        return self.operation.split(".")[0] if self.operation else None

    @property
    def action(self) -> str | None:
        """The write a hook watches (``create`` of ``Movie.create``)."""
        return self.operation.split(".")[1] if self.operation else None


def check_function_names(value: dict[str, FunctionConfig]) -> dict[str, FunctionConfig]:
    """Function names are used in error messages and logs: keep them plain."""
    for name in value:
        if not FUNCTION_NAME.fullmatch(name):
            raise ValueError(f"{name!r}: a function name is 1 to 64 letters, digits, '-' or '_'")
    return value
