"""One order for a response's errors, whichever path answered it.

graphql-core runs a query's root fields concurrently and lists errors in the order they
happened, which depends on when each field's reads returned (a relation loaded in a later
round of the loaders, PostgreSQL's network, the event loop). The compiled path runs the root
fields one after the other. So that both answer byte for byte the same, and a client sees the
same answer twice, both go through two rules:

- the errors are listed in the order of their places in the response: depth first, in the
  order the fields appear in ``data`` and by list index (errors without a path, first);
- when a field error nulls the whole ``data``, the answer carries that error only: the others
  point below a position the response no longer has. The root fields of a query are all
  settled before that error is chosen, and the first failing one in the document's order
  wins (graphql-core would cancel the others and keep whichever failed first in time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from graphql import ExecutionResult, GraphQLObjectType
from graphql.execution import Executor
from graphql.pyutils import Path, Undefined

_UNPLACED = 1 << 30
"""The rank of a path segment the data does not hold (below a nulled position)."""


class SettledRoots(Executor[Any]):
    """graphql-core's executor, but a query's root fields all settle before one fails it."""

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """Below the root, graphql-core's; at the root, every field run to its end."""
        if path is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        answers: dict[str, Any] = {}
        for name, field_details_list in grouped_field_set.items():
            try:
                answer = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(None, name, parent_type.name),
                    position_context,
                )
            except Exception as error:
                answer = _Failed(error)
            if answer is not Undefined:
                answers[name] = answer
        if not any(self.is_awaitable(a) for a in answers.values()):
            return _first_failure_or(answers)
        return _settled(answers, self.is_awaitable)


class _Failed:
    """A root field that failed before it returned an awaitable."""

    def __init__(self, error: Exception) -> None:
        self.error = error


async def _settled(answers: dict[str, Any], is_awaitable: Any) -> dict[str, Any]:
    pending = [name for name, answer in answers.items() if is_awaitable(answer)]
    values = await asyncio.gather(*(answers[n] for n in pending), return_exceptions=True)
    for name, value in zip(pending, values, strict=True):
        if isinstance(value, BaseException) and not isinstance(value, Exception):
            raise value  # cancellation and the like are not the fields' answers
        answers[name] = _Failed(value) if isinstance(value, Exception) else value
    return _first_failure_or(answers)


def _first_failure_or(answers: dict[str, Any]) -> dict[str, Any]:
    for answer in answers.values():
        if isinstance(answer, _Failed):
            raise answer.error
    return answers


def in_response_order(result: ExecutionResult) -> ExecutionResult:
    """``result`` with its errors in the order of their places in the response."""
    errors = result.errors
    if not errors:
        return result
    if result.data is None and any(error.path for error in errors):
        # The last one recorded is the error that nulled the data (see the module's doc).
        return ExecutionResult(None, [errors[-1]])
    if len(errors) == 1:
        return result
    data = result.data
    ordered = sorted(errors, key=lambda error: _place(data, error.path or ()))
    return ExecutionResult(data, ordered)


def _place(data: Any, path: Sequence[str | int]) -> tuple[int, ...]:
    """The rank of each segment of ``path`` in ``data``: list index or field position."""
    ranks: list[int] = []
    node = data
    for segment in path:
        if isinstance(segment, int):
            ranks.append(segment)
            node = node[segment] if isinstance(node, list) and segment < len(node) else None
        elif isinstance(node, dict) and segment in node:
            ranks.append(list(node).index(segment))
            node = node[segment]
        else:
            ranks.append(_UNPLACED)
            node = None
    return tuple(ranks)
