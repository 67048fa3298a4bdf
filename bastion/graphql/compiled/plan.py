"""Compile a query's selections into plans: what to read for each object, and how to answer.

A plan is built for one operation and one set of values of the variables its ``@skip`` and
``@include`` directives read, then cached with the document; arguments stay unevaluated (they
may hold variables) and are read at run time. Fields are collected as graphql-core collects
them (fragments, type conditions, directives, merged selections under one response key), so
the response has the same keys in the same order.

A selection the plans cannot answer makes its root field fall back to graphql-core: a field
whose source is not written on it (:mod:`bastion.graphql.sources`), an abstract type other
than the model's ``Node``, a directive other than ``@skip``/``@include``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeNameMetaFieldDef,
    VariableNode,
)

from bastion.graphql.sources import Column, Link, Resolved, Root, Source, source_of

Fragments = dict[str, FragmentDefinitionNode]


class NotCompilable(Exception):
    """A selection only graphql-core's executor can answer."""


@dataclass
class LeafShape:
    """How a scalar or enum value is completed: its serializer, list and null wrappings."""

    serialize: Any
    """The type's serializer; None where the stored value is already the answer (text)."""
    non_null: bool
    items: LeafShape | None = None
    """For a list of scalars: the shape of each item."""
    type_name: str = ""
    same: type | None = None
    """A Python type whose values the serializer gives back unchanged (``int`` for Int within
    32 bits, ``bool`` for Boolean): those skip the call."""


class Step:
    """What projecting a field of a row does, decided once per plan."""

    TYPENAME = 0
    COLUMN = 1
    LINK = 2


@dataclass
class FieldPlan:
    """One response key of an object: the field it reads and how its value is made."""

    key: str
    name: str
    nodes: list[FieldNode]
    definition: GraphQLField
    parent: GraphQLObjectType
    source: Source | None
    """None for ``__typename``."""
    return_type: GraphQLOutputType
    non_null: bool
    leaf: LeafShape | None = None
    child: ObjectPlan | None = None
    """The plan of a model object below (the target of a relation or a root field)."""
    abstract: dict[str, ObjectPlan] | None = None
    """For a field of the ``Node`` interface: the plan of each model type it may be."""
    many: bool = False
    """A list of objects."""
    item_non_null: bool = True
    step: int = Step.TYPENAME
    """For a field of a model row: how it is projected (see :class:`Step`)."""
    guarded: bool = False
    """A read rule may hide it (null with FORBIDDEN)."""
    column: str = ""
    """The column a scalar reads, or the key column a to-one relation holds."""
    fixed_arguments: dict[str, Any] | None = None
    """The field's arguments once read, when they hold no variable (the same every time)."""
    json_written: bool | None = None
    """For a root field: whether the database writes its whole answer as JSON
    (:mod:`bastion.graphql.compiled.json_sql`), decided on first use."""
    json_statements: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """For such a root field: its statements compiled, by viewer rules and arguments
    (text and parameters as the driver takes them)."""

    @property
    def has_args(self) -> bool:
        """Whether the field takes arguments (read at run time, variables included)."""
        return bool(self.definition.args)


@dataclass
class ObjectPlan:
    """The selections of one object type."""

    type: GraphQLObjectType
    fields: list[FieldPlan]
    model: bool
    """Rows of a model type (read by columns) rather than values of resolvers."""
    columns: list[str] = field(default_factory=list)
    """For a model type: the columns its fields read (``id`` is always read)."""
    links: list[FieldPlan] = field(default_factory=list)
    """For a model type: its relation fields, loaded a level at a time."""
    projector: Any = field(default=None, compare=False, repr=False)
    """For a model type: the function that answers one of its rows, written on first use
    (:mod:`bastion.graphql.compiled.codegen`)."""


@dataclass
class OperationPlan:
    """An operation's root fields: a plan where one answers it, None where graphql-core must."""

    root: GraphQLObjectType
    fields: list[tuple[str, list[FieldNode], FieldPlan | None]]
    singles: list[FieldPlan] = field(init=False, compare=False, repr=False)
    """Its ``<type>(id)`` root fields (read together, by type), found once."""
    whole: bool = field(init=False, compare=False, repr=False)
    """Whether a plan answers every root field (none is left to graphql-core)."""

    def __post_init__(self) -> None:
        plans = [plan for _key, _nodes, plan in self.fields]
        self.singles = [plan for plan in plans if plan is not None and is_single(plan)]
        self.whole = None not in plans


def is_single(field: FieldPlan) -> bool:
    """Whether ``field`` is a ``<type>(id)`` root field."""
    source = field.source
    return isinstance(source, Root) and source.kind == "single"


def directive_variables(document_nodes: list[Any]) -> tuple[str, ...]:
    """The variables that ``@skip``/``@include`` conditions read anywhere in the document."""
    found: list[str] = []

    def visit(selections: SelectionSetNode | None) -> None:
        for selection in selections.selections if selections else ():
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments or ():
                        if isinstance(argument.value, VariableNode):
                            found.append(argument.value.name.value)
            visit(getattr(selection, "selection_set", None))

    for node in document_nodes:
        visit(getattr(node, "selection_set", None))
    return tuple(dict.fromkeys(found))


class Planner:
    """Compiles the selections of one operation, for one set of directive variable values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Fragments,
        variables: dict[str, Any],
        model_types: frozenset[str],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.model_types = model_types

    # -- collecting fields, as graphql-core does -------------------------------------------

    def collect(
        self, runtime: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        """Response key -> the field nodes merged under it, in document order."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selections in selection_sets:
            self._collect(runtime, selections, fields, visited)
        return fields

    def _collect(
        self,
        runtime: GraphQLObjectType,
        selections: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selections.selections:
            if not self._included(selection.directives or ()):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._matches(condition.name.value, runtime):
                    self._collect(runtime, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is None or not self._matches(
                    fragment.type_condition.name.value, runtime
                ):
                    continue
                self._collect(runtime, fragment.selection_set, fields, visited)

    def _included(self, directives: Any) -> bool:
        for directive in directives:
            name = directive.name.value
            if name not in ("skip", "include"):
                if name == "defer" or name == "stream":
                    raise NotCompilable(f"@{name}")
                continue
            value = self._condition(directive)
            if (name == "skip" and value) or (name == "include" and not value):
                return False
        return True

    def _condition(self, directive: DirectiveNode) -> bool:
        for argument in directive.arguments or ():
            if argument.name.value == "if":
                node = argument.value
                if isinstance(node, BooleanValueNode):
                    return node.value
                if isinstance(node, VariableNode):
                    return bool(self.variables.get(node.name.value))
        raise NotCompilable("a directive condition that is not a literal or a variable")

    def _matches(self, type_name: str, runtime: GraphQLObjectType) -> bool:
        if type_name == runtime.name:
            return True
        kind = self.schema.get_type(type_name)
        if isinstance(kind, GraphQLInterfaceType):
            return self.schema.is_sub_type(kind, runtime)
        return False

    # -- planning --------------------------------------------------------------------------

    def operation(self, operation: OperationDefinitionNode) -> OperationPlan:
        """The plans of an operation's root fields (None for those graphql-core answers)."""
        root = self.schema.query_type
        assert root is not None
        collected = self.collect(root, [operation.selection_set])
        fields: list[tuple[str, list[FieldNode], FieldPlan | None]] = []
        for key, nodes in collected.items():
            try:
                plan: FieldPlan | None = self._field(root, key, nodes, root_level=True)
            except NotCompilable:
                plan = None
            fields.append((key, nodes, plan))
        return OperationPlan(root, fields)

    def object(self, kind: GraphQLObjectType, nodes: list[FieldNode]) -> ObjectPlan:
        """The plan of the selections ``nodes`` make on an object of type ``kind``."""
        selection_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        collected = self.collect(kind, selection_sets)
        model = kind.name in self.model_types
        plan = ObjectPlan(kind, [], model)
        columns: list[str] = []
        for key, field_nodes in collected.items():
            field_plan = self._field(kind, key, field_nodes, root_level=False)
            plan.fields.append(field_plan)
            source = field_plan.source
            if model:
                if isinstance(source, Column):
                    columns.append(source.name)
                elif isinstance(source, Link):
                    plan.links.append(field_plan)
                    if source.field.holds_key:
                        columns.append(source.field.relation.column)
                elif source is not None:
                    raise NotCompilable(f"{kind.name}.{field_plan.name}")
            elif source is not None and not isinstance(source, Resolved):
                raise NotCompilable(f"{kind.name}.{field_plan.name}")
        plan.columns = list(dict.fromkeys(columns))
        return plan

    def _field(
        self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode], root_level: bool
    ) -> FieldPlan:
        name = nodes[0].name.value
        if name == "__typename":
            return FieldPlan(
                key,
                name,
                nodes,
                TypeNameMetaFieldDef,
                parent,
                None,
                TypeNameMetaFieldDef.type,
                True,
            )
        if name.startswith("__"):
            raise NotCompilable(name)  # introspection
        definition = parent.fields.get(name)
        if definition is None:
            raise NotCompilable(name)
        source = source_of(definition)
        if source is None:
            raise NotCompilable(f"{parent.name}.{name}")
        if isinstance(source, Root) != root_level and not isinstance(source, Resolved):
            raise NotCompilable(f"{parent.name}.{name}")
        kind = definition.type
        non_null = isinstance(kind, GraphQLNonNull)
        plan = FieldPlan(key, name, nodes, definition, parent, source, kind, non_null)
        if isinstance(source, Column):
            plan.step, plan.guarded, plan.column = Step.COLUMN, source.guarded, source.name
        elif isinstance(source, Link):
            plan.step, plan.guarded = Step.LINK, source.guarded
            plan.column = source.field.relation.column
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if isinstance(inner, GraphQLList):
            plan.many = True
            item = inner.of_type
            plan.item_non_null = isinstance(item, GraphQLNonNull)
            inner = item.of_type if isinstance(item, GraphQLNonNull) else item
            if isinstance(inner, GraphQLLeafType):
                plan.leaf = LeafShape(
                    None, non_null, _leaf(inner, plan.item_non_null), type_name=inner.name
                )
                return plan
        if isinstance(inner, GraphQLLeafType):
            if plan.many:
                raise NotCompilable("nested lists")
            plan.leaf = _leaf(inner, non_null)
            return plan
        if isinstance(inner, GraphQLObjectType):
            plan.child = self.object(inner, nodes)
            if isinstance(source, Link | Root) and not plan.child.model:
                raise NotCompilable(f"{parent.name}.{name}")
            return plan
        if isinstance(inner, GraphQLInterfaceType) and inner.name == "Node":
            plan.abstract = {
                kind.name: self.object(kind, nodes)
                for kind in self.schema.get_possible_types(inner)
                if kind.name in self.model_types
            }
            return plan
        raise NotCompilable(f"{parent.name}.{name}")


# Scalars whose stored value (text) is the answer as it is: no serializer to call.
_TEXT = {"String", "ID"}
# Built-in scalars that answer a value of this Python type unchanged.
_SAME = {"Int": int, "Boolean": bool}


def _leaf(kind: GraphQLLeafType, non_null: bool) -> LeafShape:
    serialize = None if kind.name in _TEXT else kind.serialize
    same = _SAME.get(kind.name) if kind.serialize is _builtin_serializer(kind.name) else None
    return LeafShape(serialize, non_null, type_name=kind.name, same=same)


def _builtin_serializer(name: str) -> Any:
    """graphql-core's own serializer of a built-in scalar (a project cannot replace it)."""
    return {"Int": GraphQLInt.serialize, "Boolean": GraphQLBoolean.serialize}.get(name)
