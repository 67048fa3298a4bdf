"""Callable functions: the project functions clients call by name, outside GraphQL.

A function with ``callable: true`` in ``bastion.yml`` is what Stitch and Realm called a
function: the SDKs call it with a list of arguments (``user.functions.sum(1, 2)``) over the
HTTP edge, which decodes them and hands them here. Its handler gets an :class:`Event` whose
``arguments`` is that list (``data`` is empty) and whose ``context.viewer`` is the caller.

Its ``api`` documents run as the caller by default, under the caller's permission rules, so a
function cannot read for a user what the user could not read themselves; ``run_as: system``
makes them run as the functions' root instead (Stitch's "System" functions). There is no
surrounding GraphQL request: each ``api`` document is a request of its own, committed when it
ends.

A name that is no function and the name of a function that is not callable answer alike
(:class:`FunctionNotFound`), so that a client cannot learn the names of resolvers and hooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bastion.auth import ANONYMOUS
from bastion.auth.viewer import Viewer
from bastion.errors import BastionError, Code
from bastion.functions.loader import Function
from bastion.functions.runtime import Event, FunctionRuntime


class FunctionNotFound(BastionError):
    """No callable function of that name (none at all, or one that is not callable)."""

    code = Code.NOT_FOUND

    def __init__(self, name: str) -> None:
        # No function name is longer than 64 characters: a longer one is cut, not echoed whole.
        shown = name if len(name) <= 64 else f"{name[:64]}..."
        super().__init__(f"function not found: {shown!r}")
        self.name = name


def callable_function(runtime: FunctionRuntime, name: str) -> Function:
    """The callable function ``name``, or :class:`FunctionNotFound`."""
    function = runtime.functions.get(name)
    if function is None or not function.config.callable:
        raise FunctionNotFound(name)
    return function


async def call(
    runtime: FunctionRuntime, function: Function, arguments: list[Any], viewer: Viewer
) -> Any:
    """Run ``function`` for ``viewer`` with ``arguments``; what its handler returns.

    Its refusals (:class:`FunctionError`) pass through with their message; anything else it
    raises is logged and becomes :class:`FunctionFailed`, as for resolvers.
    """
    api_viewer = viewer if function.config.runs_as_caller else None
    event = Event(
        data={},
        arguments=list(arguments),
        context=runtime.context(viewer, None, api_viewer),
        function=function.name,
    )
    return await runtime.call(function, event)


def auth_function(runtime: FunctionRuntime, kind: str) -> Function | None:
    """The project's function marked ``auth: <kind>`` (the first by name), if any."""
    marked = [f for _, f in sorted(runtime.functions.items()) if f.config.auth == kind]
    return marked[0] if marked else None


def auth_runner(
    runtime: FunctionRuntime, function: Function, extra: Sequence[Any] = ()
) -> Callable[[Mapping[str, Any]], Awaitable[Any]]:
    """Runs a function marked ``auth:`` with the facts Bastion gives it, then ``extra`` (the
    client's arguments), as nobody in particular: its ``api`` documents run as the functions'
    root."""

    async def run(facts: Mapping[str, Any]) -> Any:
        return await call(runtime, function, [dict(facts), *extra], ANONYMOUS)

    return run
