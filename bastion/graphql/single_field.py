"""A mutation of one credential field, answered without graphql-core's executor.

Clients send ``refreshToken`` and the logins thousands of times a second as the same small
document: one root mutation field, an object of scalars as its answer. graphql-core's
executor spends about a tenth of a refresh's CPU on it (a context built, the variables
coerced, the root and the payload fields collected and completed one by one). For exactly
that shape, and only for resolvers marked :func:`answerable`, this module answers as
graphql-core does (tests compare both paths outcome by outcome): the variables coerced by
graphql-core's own function (the same errors, the same ``data: null``), the arguments
likewise, the resolver called with a resolve info of the same values, a resolver's error
located at the field, and the payload's leaves completed with graphql-core's rules for nulls
and for scalars that cannot be serialised. Anything else goes to graphql-core.

A resolver marked answerable reads only ``info.context`` and ``info.field_name`` of its
resolve info (no fragments, no ``async_helpers``); its payload's fields keep the default
resolver.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, TypeVar, cast

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    located_error,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.pyutils import Path, Undefined
from graphql.pyutils import inspect as graphql_inspect
from graphql.pyutils import is_awaitable as default_is_awaitable

Resolver = TypeVar("Resolver", bound=Callable[..., Any])

_ANSWERABLE: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()
# graphql-core's default (Executor.build's max_coercion_errors).
_MAX_COERCION_ERRORS = 50


def answerable(resolver: Resolver) -> Resolver:
    """Mark a root mutation resolver as one :class:`SingleField` may call (see the module)."""
    _ANSWERABLE.add(resolver)
    return resolver


@dataclass(frozen=True)
class _Leaf:
    key: str  # the response key (the alias, else the name)
    node: FieldNode
    field: GraphQLField | None  # None for __typename


@dataclass(frozen=True)
class SingleField:
    """The shape of an operation this module answers: its root field and payload leaves."""

    node: FieldNode
    key: str
    parent: GraphQLObjectType
    field: GraphQLField
    payload: GraphQLObjectType
    leaves: tuple[_Leaf, ...]

    @staticmethod
    def of(
        schema: GraphQLSchema, operation: OperationDefinitionNode, has_fragments: bool
    ) -> SingleField | None:
        """The shape of ``operation``, or None when graphql-core must answer it."""
        parent = schema.mutation_type
        selections = operation.selection_set.selections
        if (
            parent is None
            or has_fragments
            or operation.operation is not OperationType.MUTATION
            or operation.directives
            or len(selections) != 1
        ):
            return None
        node = selections[0]
        if not isinstance(node, FieldNode) or node.directives or node.selection_set is None:
            return None
        field = parent.fields.get(node.name.value)
        if field is None or field.resolve is None or field.resolve not in _ANSWERABLE:
            return None
        payload = _nullable(field.type)
        if not isinstance(payload, GraphQLObjectType) or payload.is_type_of is not None:
            return None
        leaves = _leaves(payload, node)
        if leaves is None:
            return None
        key = node.alias.value if node.alias else node.name.value
        return SingleField(node, key, parent, field, payload, leaves)

    async def answer(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        context: Any,
        variables: dict[str, Any] | None,
        hide_suggestions: bool,
    ) -> ExecutionResult:
        """What graphql-core's ``execute`` answers for this operation."""
        coerced = get_variable_values(
            schema,
            operation.variable_definitions or (),
            variables or {},
            max_errors=_MAX_COERCION_ERRORS,
            hide_suggestions=hide_suggestions,
        )
        if isinstance(coerced, list):
            return ExecutionResult(data=None, errors=coerced)
        path = Path(None, self.key, self.parent.name)
        info = GraphQLResolveInfo(
            self.node.name.value,
            [self.node],
            self.field.type,
            self.parent,
            path,
            schema,
            {},
            None,
            operation,
            coerced,
            context,
            default_is_awaitable,
            None,
            cast(Any, None),  # async_helpers: answerable resolvers do not use them
        )
        errors: list[GraphQLError] = []
        value: Any
        try:
            arguments = get_argument_values(
                self.field, self.node, coerced, hide_suggestions=hide_suggestions
            )
            assert self.field.resolve is not None
            result = self.field.resolve(None, info, **arguments)
            if isawaitable(result):
                result = await result
            value = self._complete(result, path, info, errors)
        except Exception as error:
            errors.append(located_error(error, [self.node], path.as_list()))
            value = None
        if value is None and isinstance(self.field.type, GraphQLNonNull):
            return ExecutionResult(data=None, errors=errors)
        return ExecutionResult(data={self.key: value}, errors=errors or None)

    def _complete(
        self, result: Any, path: Path, info: GraphQLResolveInfo[Any], errors: list[GraphQLError]
    ) -> dict[str, Any] | None:
        """The payload object, completed as graphql-core completes it; raises what fails the
        root field itself (an error returned as the result, a null for a non-null field)."""
        if isinstance(result, Exception):
            raise result
        if result is None:
            if isinstance(self.field.type, GraphQLNonNull):
                raise TypeError(
                    f"Cannot return null for non-nullable field {self.parent}.{info.field_name}."
                )
            return None
        payload: dict[str, Any] = {}
        for leaf in self.leaves:
            if leaf.field is None:
                payload[leaf.key] = self.payload.name
                continue
            leaf_path = path.add_key(leaf.key, self.payload.name)
            try:
                payload[leaf.key] = self._leaf(leaf, leaf.field, result, leaf_path, info)
            except Exception as error:
                errors.append(located_error(error, [leaf.node], leaf_path.as_list()))
                if isinstance(leaf.field.type, GraphQLNonNull):
                    return None  # a non-null leaf failed: its object is null
                payload[leaf.key] = None
        return payload

    def _leaf(
        self,
        leaf: _Leaf,
        field: GraphQLField,
        source: Any,
        path: Path,
        info: GraphQLResolveInfo[Any],
    ) -> Any:
        name = leaf.node.name.value
        value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
        if callable(value):  # graphql-core's default resolver calls it with the leaf's info
            value = value(
                info._replace(
                    field_name=name,
                    field_nodes=[leaf.node],
                    return_type=field.type,
                    parent_type=self.payload,
                    path=path,
                )
            )
        if isinstance(value, Exception):
            raise value
        completed = _scalar(_nullable(field.type), value)
        if completed is None and isinstance(field.type, GraphQLNonNull):
            raise TypeError(f"Cannot return null for non-nullable field {self.payload}.{name}.")
        return completed


def _nullable(kind: GraphQLOutputType) -> GraphQLOutputType:
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


def _leaves(payload: GraphQLObjectType, node: FieldNode) -> tuple[_Leaf, ...] | None:
    """The payload's selected scalar leaves, or None when the selection is anything more."""
    assert node.selection_set is not None
    leaves: list[_Leaf] = []
    keys: set[str] = set()
    for selection in node.selection_set.selections:
        if (
            not isinstance(selection, FieldNode)
            or selection.directives
            or selection.arguments
            or selection.selection_set is not None
        ):
            return None
        key = selection.alias.value if selection.alias else selection.name.value
        if key in keys:
            return None  # merged fields: graphql-core's business
        keys.add(key)
        if selection.name.value == "__typename":
            leaves.append(_Leaf(key, selection, None))
            continue
        field = payload.fields.get(selection.name.value)
        if (
            field is None
            or field.resolve is not None
            or field.args
            or not isinstance(_nullable(field.type), GraphQLScalarType)
        ):
            return None
        leaves.append(_Leaf(key, selection, field))
    return tuple(leaves)


def _scalar(kind: GraphQLOutputType, value: Any) -> Any:
    """graphql-core's completion of a scalar leaf: null stays null, else its output value."""
    if value is None or value is Undefined:
        return None
    assert isinstance(kind, GraphQLScalarType)
    coerced = kind.coerce_output_value(value)
    if coerced is Undefined or coerced is None:
        raise TypeError(
            f"Expected `{graphql_inspect(kind)}.coerce_output_value("
            f"{graphql_inspect(value)})` to return non-nullable value, returned:"
            f" {graphql_inspect(coerced)}"
        )
    return coerced
