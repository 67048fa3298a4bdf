"""How big a GraphQL document is, measured before anything runs.

Two walks, both with fragments flattened (each spread counts as if its fragment were written
out there) and both memoised per fragment, so a "fragment bomb" of fragments that spread each
other twice is measured in linear time and refused for the exponential size it stands for:

- :func:`measure` reads the untyped document right after parsing, before validation (whose
  overlapping-fields rule is the expensive step an alias flood aims at): depth, aliases,
  directives, and whether it asks for ``__schema`` or ``__type``.
- :func:`estimate_cost` walks the chosen operation with the schema's types and the request's
  variables: the most objects it could return, each list counted at its ``first`` (or the
  default page size) and multiplied by the lists around it. It also tells whether a variable
  fed the figure: the figure of an operation no variable feeds is kept with its document.

A limit that is passed is a :class:`LimitExceeded` with code ``QUERY_TOO_COMPLEX`` naming the
limit, its maximum and what the document has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)

from bastion.errors import BastionError, Code
from bastion.graphql.settings import GraphQLConfig

_INTROSPECTION = frozenset({"__schema", "__type"})


class LimitExceeded(BastionError):
    """A document over one of the ``graphql:`` limits; nothing of it ran."""

    code = Code.QUERY_TOO_COMPLEX

    def __init__(self, limit: str, maximum: int, found: int, what: str) -> None:
        super().__init__(
            f"The document {what} ({found}); the limit is {maximum}",
            limit=limit,
            max=maximum,
            found=found,
        )


@dataclass(frozen=True)
class Shape:
    """What :func:`measure` finds in a document."""

    depth: int = 0
    aliases: int = 0
    directives: int = 0
    introspects: bool = False

    def beside(self, other: Shape) -> Shape:
        """Two sibling selections: the deeper depth, the sum of the counts."""
        return Shape(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.directives + other.directives,
            self.introspects or other.introspects,
        )


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _Measure:
    """One walk of :func:`measure`; fragments are measured once each."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.memo: dict[str, Shape] = {}
        self.visiting: set[str] = set()

    def selections(self, selection_set: SelectionSetNode | None) -> Shape:
        total = Shape()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = self.selections(selection.selection_set)
                if selection.name.value in _INTROSPECTION:
                    # Introspection's depth is graphql-core's to bound (MaxIntrospectionDepth);
                    # explorers' introspection query is deeper than any sane data query.
                    inner = replace(inner, depth=0, introspects=True)
                else:
                    inner = replace(inner, depth=inner.depth + 1)
                inner = replace(inner, aliases=inner.aliases + (selection.alias is not None))
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selections(selection.selection_set)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                inner = self.fragment(selection.name.value)
            directives = inner.directives + len(selection.directives or ())
            total = total.beside(replace(inner, directives=directives))
        return total

    def fragment(self, name: str) -> Shape:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            # Unknown fragments and cycles are validation's to refuse, after this walk.
            return Shape()
        self.visiting.add(name)
        inner = self.selections(definition.selection_set)
        self.visiting.discard(name)
        found = replace(inner, directives=inner.directives + len(definition.directives or ()))
        self.memo[name] = found
        return found


def measure(document: DocumentNode) -> Shape:
    """Depth (deepest operation), aliases and directives (all operations), introspection."""
    walk = _Measure(_fragments(document))
    total = Shape()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            shape = walk.selections(definition.selection_set)
            directives = len(definition.directives or ()) + sum(
                len(v.directives or ()) for v in definition.variable_definitions or ()
            )
            total = total.beside(replace(shape, directives=shape.directives + directives))
    return total


def check_shape(config: GraphQLConfig, shape: Shape) -> None:
    """Raise :class:`LimitExceeded` for the first limit ``shape`` passes."""
    checks = (
        ("depth", config.max_depth, shape.depth, "nests fields too deeply"),
        ("aliases", config.max_aliases, shape.aliases, "has too many aliases"),
        ("directives", config.max_directives, shape.directives, "has too many directives"),
    )
    for limit, maximum, found, what in checks:
        if maximum is not None and found > maximum:
            raise LimitExceeded(limit, maximum, found, what)


class _Cost:
    """One walk of :func:`estimate_cost`. Cost is linear in the size of the lists around a
    selection, so each (fragment, type) is costed once for a multiplier of one."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        config: GraphQLConfig,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.config = config
        self.memo: dict[tuple[str, str], int] = {}
        self.visiting: set[str] = set()
        # Whether a variable's value was read: the walk reads nothing else of the request.
        self.read_variables = False

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, target or parent)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> int:
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return 0
        target = self.schema.get_type(definition.type_condition.name.value)
        key = (name, target.name if target else "")
        if key not in self.memo:
            self.visiting.add(name)
            self.memo[key] = self.selections(definition.selection_set, target)
            self.visiting.discard(name)
        return self.memo[key]

    def field(self, node: FieldNode, parent: Any) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        definition = fields[name]
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0  # scalars and enums come with their object
        size = self.list_size(node, definition.type, "first" in definition.args)
        return size * (1 + self.selections(node.selection_set, named))

    def list_size(self, node: FieldNode, output: GraphQLOutputType, paged: bool) -> int:
        wrapped: Any = output.of_type if isinstance(output, GraphQLNonNull) else output
        if not isinstance(wrapped, GraphQLList):
            return 1
        default, most = self.config.default_page_size, self.config.max_page_size
        if not paged:
            return default
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: Any = None
        if argument is not None:
            if isinstance(argument.value, IntValueNode):
                value = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                self.read_variables = True
                value = self.variables.get(argument.value.name.value)
        if not isinstance(value, int) or isinstance(value, bool):
            return default
        return max(0, min(value, most))


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    config: GraphQLConfig,
) -> tuple[int, bool]:
    """The most objects ``operation`` could return with these variables, and whether a
    variable fed that figure (a ``first: $n`` the walk met): when none did, the operation
    costs the same whatever the variables, and the figure may be kept with the document."""
    root: GraphQLObjectType | None = schema.get_root_type(operation.operation)
    walk = _Cost(schema, _fragments(document), variables or {}, config)
    return walk.selections(operation.selection_set, root), walk.read_variables


def check_cost(config: GraphQLConfig, cost: int) -> None:
    """Raise :class:`LimitExceeded` when ``cost`` passes ``max_cost``."""
    if config.max_cost is not None and cost > config.max_cost:
        raise LimitExceeded("cost", config.max_cost, cost, "could return too many objects")
