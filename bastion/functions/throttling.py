"""Credential functions are throttled as the built-in logins are.

A resolver marked ``credential: true`` (a code check, a PIN, a password of the app's own) is
counted per client IP with the logins (``auth.throttle.login_per_ip``) and per account: the
account is the value of its ``throttle_by`` argument (``email`` or ``username`` by default).
Each attempt is counted as a failure *before* the handler runs, in the transaction that checks
the account's lock and delay (:meth:`Throttle.reserve`), so parallel attempts cannot overtake
the count; an answer without error forgets the account's failures, and any error (the
handler's refusal, a bad input, a crash) leaves the attempt counted. A locked account is
refused with ``INVALID_CREDENTIALS`` and a cooling-down one with ``RATE_LIMITED`` before the
handler runs. Documents run by functions through ``api`` (in-process, as root) are not
counted, like seeding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bastion.auth.throttle import LOGIN, function_account_key
from bastion.errors import BastionError, Code
from bastion.graphql.context import Info, context_of

Resolve = Callable[..., Awaitable[Any]]


def throttled(resolve: Resolve, function: str, argument: str | None) -> Resolve:
    """``resolve`` counted per client IP and, when ``argument`` is given, per account."""

    async def attempt(root: Any, info: Info, **args: Any) -> Any:
        context = context_of(info)
        throttle = context.auth.throttle if context.auth is not None else None
        if throttle is None or context.nesting > 0:
            return await resolve(root, info, **args)
        if context.transaction.is_open:
            # The count is committed on its own, which the document's write lock would block.
            raise BastionError(
                "A credential field cannot share a document with data mutations",
                Code.BAD_REQUEST,
                function=function,
            )
        account = function_account_key(function, args.get(argument)) if argument else None
        try:
            await throttle.attempt(context.caller.ip, LOGIN)
            if account is not None:
                await throttle.reserve(account)
        except BastionError as refused:
            refused.extensions.setdefault("function", function)
            raise
        result = await resolve(root, info, **args)
        if account is not None:
            if context.writes:  # with the handler's writes: no success, nothing forgotten
                await throttle.succeeded_in(await context.connection(), account)
            else:
                await throttle.succeeded(account)
        return result

    return attempt
