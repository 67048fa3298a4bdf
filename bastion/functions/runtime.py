"""Calling a handler: the ``event`` it receives, its ``context``, and what its errors become.

A handler is ``def handler(event)`` or ``async def handler(event)``. ``event.data`` is the
field's arguments (a resolver) or the write's input (a hook); ``event.arguments`` the list a
client called a callable function with. ``event.context`` holds the ``viewer``, the project's
``root_token`` for functions, an ``api`` that runs GraphQL against this project in-process (as
the functions' root, or as the caller of a callable function), and ``generate_auth_token``, as
graphcool-lib gave its functions.

Errors: a handler that raises :class:`FunctionError` refuses with its own message; any other
exception is logged with its traceback and the client sees only which function failed.
Synchronous handlers run on the event loop: keep them quick, and make a handler ``async`` when
it waits on anything (``api`` is async).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from bastion.auth.node_tokens import DEFAULT_LIFETIME
from bastion.auth.viewer import Viewer, ViewerKind
from bastion.errors import BastionError, Code
from bastion.functions.loader import Function
from bastion.tools.clock import Clock

if TYPE_CHECKING:
    from bastion.auth.node_tokens import NodeTokens
    from bastion.graphql.context import RequestContext
    from bastion.graphql.execute import Executor

log = logging.getLogger("bastion.functions")

FUNCTIONS_TOKEN = "_functions"  # noqa: S105 - a name, not a secret
"""The root token of functions (a name no ``root_tokens:`` entry can take)."""
MAX_NESTING = 8
"""How deep functions may call the API that calls functions again (a hook writing its own type)."""


class FunctionError(BastionError):
    """Raise it in a handler to refuse the request with ``message``, shown to the client."""

    code = Code.BAD_USER_INPUT


class FunctionFailed(BastionError):
    """A handler raised something unexpected; the details are in the server log only."""

    code = Code.FUNCTION_FAILED

    def __init__(self, name: str, after_commit: bool = False) -> None:
        detail = " after the write was committed" if after_commit else ""
        super().__init__(f"Function {name!r} failed{detail}", function=name)


class FunctionMisuse(RuntimeError):
    """A handler used its context wrongly: a bug in the handler, logged with its traceback."""


class GraphQLRequestError(Exception):
    """``context.api.request`` answered errors; ``errors`` holds them as the API gave them."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


class API:
    """GraphQL against this project in-process, as ``viewer`` (by default the functions' root).

    Inside a mutation, its documents share the request's transaction (in a savepoint): what a
    ``before`` hook writes is undone with the rest when the request fails.
    """

    def __init__(
        self, runtime: FunctionRuntime, within: RequestContext | None, viewer: Viewer | None = None
    ) -> None:
        self._runtime = runtime
        self._within = within
        self._viewer = viewer or runtime.viewer

    async def request(
        self, query: str, variables: Mapping[str, Any] | None = None, *, isolated: bool = False
    ) -> dict[str, Any]:
        """Run ``query``; returns its ``data``, or raises :class:`GraphQLRequestError`.

        ``isolated=True`` runs it in a transaction of its own, committed when it ends even if
        the calling request fails afterwards (a failed-attempt counter). On SQLite it must come
        before the request's own first database use, whose write lock it would wait for.
        """
        within = self._within
        nesting = within.nesting + 1 if within is not None else 1
        if nesting > MAX_NESTING:
            raise FunctionMisuse("functions called the API too deeply (a hook calling itself?)")
        executor = self._runtime.executor
        assert executor is not None, "the executor is set when the service is built"
        opened = within is not None and within.writes and within.transaction.is_open
        if isolated and opened and executor.store.db.is_sqlite:
            raise FunctionMisuse(
                "an isolated API request must come before the request's own database use "
                "on SQLite (it would wait for that transaction's lock)"
            )
        outcome = await executor.run(
            query, variables, viewer=self._viewer, within=within, share=not isolated
        )
        if "errors" in outcome.body:
            raise GraphQLRequestError(outcome.body["errors"])
        data: dict[str, Any] = outcome.body["data"]
        return data


@dataclass(frozen=True)
class FunctionContext:
    """``event.context``: who asks, and what a handler may use."""

    viewer: Viewer
    """The caller of the request (anonymous, a user, a node token, root)."""
    root_token: str
    """The project's root token for functions (``Authorization: Bearer ...`` over HTTP)."""
    api: API
    """Run GraphQL in-process: ``await context.api.request(query, variables)``, as the
    functions' root (as the caller in a callable function unless it has ``run_as: system``)."""
    generate_auth_token: Callable[..., str]
    """``generate_auth_token(node_id, type_name, lifetime=3600)``: a token bound to a node."""
    now: Callable[[], datetime]
    """The server's clock (aware UTC): use it, not ``datetime.now()``, so tests can move it."""


@dataclass(frozen=True)
class Event:
    """What a handler receives."""

    data: dict[str, Any]
    """A resolver's arguments, or a hook's write input (empty for a delete and for a callable
    function)."""
    context: FunctionContext
    function: str
    """The function's name in ``bastion.yml``."""
    arguments: list[Any] = field(default_factory=list)
    """A callable function's arguments, decoded from Extended JSON (empty for the others)."""
    type_name: str | None = None
    """A hook's type (``Movie``)."""
    operation: str | None = None
    """A hook's write: ``create``, ``update`` or ``delete``."""
    id: str | None = None
    """The node updated or deleted (and, after a create, the node created)."""
    node: dict[str, Any] | None = None
    """After hooks: the node as written (as it was, for a delete)."""


class FunctionRuntime:
    """The project's functions and what their handlers are given."""

    def __init__(
        self, functions: Mapping[str, Function], node_tokens: NodeTokens, clock: Clock
    ) -> None:
        self.functions = dict(functions)
        self._node_tokens = node_tokens
        self._clock = clock
        # Both are set once the service exists: the executor runs `api` documents, the root
        # token is read from the database at start.
        self.executor: Executor | None = None
        self.root_token = ""
        self.viewer = Viewer(ViewerKind.ROOT, token_name=FUNCTIONS_TOKEN)

    def generate_auth_token(
        self, node_id: str, type_name: str, lifetime: int | timedelta = DEFAULT_LIFETIME
    ) -> str:
        """A token bound to the node ``node_id`` of ``type_name`` (see :mod:`node_tokens`)."""
        return self._node_tokens.issue(node_id, type_name, lifetime)

    def context(
        self, viewer: Viewer, within: RequestContext | None, api_viewer: Viewer | None = None
    ) -> FunctionContext:
        """The context of one handler call, inside ``within`` (or after its commit: None);
        its ``api`` runs as ``api_viewer``, by default the functions' root."""
        return FunctionContext(
            viewer=viewer,
            root_token=self.root_token,
            api=API(self, within, api_viewer),
            generate_auth_token=self.generate_auth_token,
            now=self._clock,
        )

    async def call(self, function: Function, event: Event, after_commit: bool = False) -> Any:
        """Run the handler; its refusals pass through, anything else becomes FunctionFailed."""
        try:
            result = function.handler(event)
            if isawaitable(result):
                result = await result
        except BastionError as error:
            error.extensions.setdefault("function", function.name)
            raise
        except BaseException as error:
            # A handler's sys.exit() or stray CancelledError is its failure too, answered like
            # any other, not a 500; a real cancellation of this request (the client went
            # away, the server stops) and Ctrl+C go on.
            if isinstance(error, KeyboardInterrupt) or _cancelled(error):
                raise
            log.exception("function %s failed", function.name)
            raise FunctionFailed(function.name, after_commit) from None
        return result


def _cancelled(error: BaseException) -> bool:
    """Whether ``error`` is the cancellation of the running task, not a handler's own raise."""
    if not isinstance(error, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
