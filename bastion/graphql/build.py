"""Build the GraphQL schema of a model: object types, filters, inputs, queries, mutations.

Names come from :mod:`bastion.model.names`; resolvers from :mod:`bastion.graphql.resolvers`.
The auth layers add their own root fields through ``extra_query`` / ``extra_mutation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
)

from bastion.graphql import resolvers
from bastion.graphql.scalars import DateTimeScalar, JSONScalar
from bastion.graphql.sources import Column, Link, Root, mark
from bastion.model import Field, Model, ObjectType, RelationField, ScalarField, ScalarKind
from bastion.model import names as n
from bastion.model.names import names_for
from bastion.store.filters import scalar_filter_suffixes

FieldMap = dict[str, GraphQLField]
FieldsHook = Callable[["SchemaBuilder"], FieldMap]
Resolver = resolvers.Resolver
# (type name, field, the field's own resolver or None) -> a resolver deciding per viewer
# whether the field is shown, or None when the field is never restricted.
FieldGuard = Callable[[str, Field, Resolver | None], Resolver | None]

_LIST_SUFFIXES = {"in", "not_in"}  # these take a list of values
# Text-only filters: every string filter that numbers and dates do not have.
_STRING_ONLY = set(n.STRING_FILTERS) - set(n.ORDERED_FILTERS)


def _non_null(kind: Any, required: bool) -> Any:
    return GraphQLNonNull(kind) if required else kind


NODE_TYPE_KEY = "__typename"
"""Where a row answered as a ``Node`` names its type (rows do not know their type)."""


def _node_type(value: Any, _info: Any, _abstract: Any) -> str | None:
    return value.get(NODE_TYPE_KEY) if isinstance(value, dict) else None


def _node_interface() -> GraphQLInterfaceType:
    # `id` may be null here: a field rule on a type's id makes that type's id nullable, and
    # the interface must admit every type.
    return GraphQLInterfaceType(
        "Node",
        {"id": GraphQLField(GraphQLID)},
        resolve_type=_node_type,
        description="Any node of the model, by its id (`... on Movie` for the rest).",
    )


class SchemaBuilder:
    """Builds the types of one model; each GraphQL type is made once and reused."""

    def __init__(self, model: Model, guard: FieldGuard | None = None) -> None:
        self.model = model
        self.guard = guard
        self.enums = {
            name: GraphQLEnumType(name, {v: GraphQLEnumValue(v) for v in values})
            for name, values in model.enums.items()
        }
        self.objects: dict[str, GraphQLObjectType] = {}
        self.inputs: dict[str, GraphQLInputObjectType] = {}
        self.order_enums: dict[str, GraphQLEnumType] = {}
        # Types the auth modules share (a login payload is answered by several fields).
        self.shared: dict[str, Any] = {}
        # Every type of the model implements it.
        self.node = _node_interface()
        for obj in model.types.values():
            self.objects[obj.name] = GraphQLObjectType(
                obj.name,
                (lambda o=obj: self._object_fields(o)),  # type: ignore[misc]
                interfaces=[self.node],
            )

    # -- scalars ------------------------------------------------------------------------

    def scalar_type(self, field: ScalarField) -> Any:
        """The GraphQL scalar or enum of a field, without list or non-null wrapping."""
        match field.kind:
            case ScalarKind.ID:
                return GraphQLID
            case ScalarKind.STRING:
                return GraphQLString
            case ScalarKind.INT:
                return GraphQLInt
            case ScalarKind.FLOAT:
                return GraphQLFloat
            case ScalarKind.BOOLEAN:
                return GraphQLBoolean
            case ScalarKind.DATETIME:
                return DateTimeScalar
            case ScalarKind.JSON:
                return JSONScalar
            case _:
                assert field.enum is not None
                return self.enums[field.enum]

    def _value_type(self, field: ScalarField, required: bool) -> Any:
        base = self.scalar_type(field)
        if field.is_list:
            return _non_null(GraphQLList(GraphQLNonNull(base)), required)
        return _non_null(base, required)

    # -- output types -------------------------------------------------------------------

    def _object_fields(self, obj: ObjectType) -> FieldMap:
        fields: FieldMap = {}
        for field in obj.fields.values():
            inner = None if isinstance(field, ScalarField) else resolvers.relation(field)
            guard = self.guard(obj.name, field, inner) if self.guard else None
            # A guarded field may answer null for some viewers, so it is never non-null.
            required = field.required and guard is None
            resolve = guard or inner
            guarded = guard is not None
            if isinstance(field, ScalarField):
                fields[field.name] = mark(
                    GraphQLField(self._value_type(field, required), resolve=resolve),
                    Column(field.name, guarded),
                )
            elif field.many:
                items = GraphQLList(GraphQLNonNull(self.objects[field.target]))
                fields[field.name] = mark(
                    GraphQLField(
                        items if guard else GraphQLNonNull(items),
                        args=self.list_args(field.target),
                        resolve=resolve,
                    ),
                    Link(field, guarded),
                )
            else:
                fields[field.name] = mark(
                    GraphQLField(_non_null(self.objects[field.target], required), resolve=resolve),
                    Link(field, guarded),
                )
        return fields

    def list_args(self, type_name: str) -> dict[str, GraphQLArgument]:
        """``where``, ``orderBy``, ``first`` and ``skip`` of a list of ``type_name``."""
        return {
            "where": GraphQLArgument(self.where(type_name)),
            "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(self.order_by(type_name)))),
            "first": GraphQLArgument(GraphQLInt),
            "skip": GraphQLArgument(GraphQLInt),
        }

    # -- filters and ordering -----------------------------------------------------------

    def _input(
        self, name: str, fields: Callable[[], dict[str, GraphQLInputField]]
    ) -> GraphQLInputObjectType:
        if name not in self.inputs:
            self.inputs[name] = GraphQLInputObjectType(name, fields)
        return self.inputs[name]

    def where(self, type_name: str) -> GraphQLInputObjectType:
        """``MovieWhereInput``."""
        names = names_for(type_name)

        def fields() -> dict[str, GraphQLInputField]:
            self_list = GraphQLList(GraphQLNonNull(self.inputs[names.where]))
            result = {k: GraphQLInputField(self_list) for k in ("AND", "OR", "NOT")}
            for field in self.model.type(type_name).fields.values():
                if isinstance(field, ScalarField):
                    base = self.scalar_type(field)
                    for suffix in scalar_filter_suffixes(field):
                        key = f"{field.name}_{suffix}" if suffix else field.name
                        kind: GraphQLInputType = base
                        if suffix in _LIST_SUFFIXES:
                            kind = GraphQLList(GraphQLNonNull(base))
                        elif suffix in _STRING_ONLY:
                            kind = GraphQLString
                        result[key] = GraphQLInputField(kind)
                elif field.many:
                    for suffix in ("some", "every", "none"):
                        result[f"{field.name}_{suffix}"] = GraphQLInputField(
                            self.where(field.target)
                        )
                else:
                    result[field.name] = GraphQLInputField(self.where(field.target))
            return result

        return self._input(names.where, fields)

    def where_unique(self, type_name: str) -> GraphQLInputObjectType:
        """``MovieWhereUniqueInput``: ``id`` or one ``@unique`` field."""

        def fields() -> dict[str, GraphQLInputField]:
            obj = self.model.type(type_name)
            return {
                f.name: GraphQLInputField(self.scalar_type(f))
                for f in obj.scalars
                if f.name == "id" or f.unique
            }

        return self._input(names_for(type_name).where_unique, fields)

    def order_by(self, type_name: str) -> GraphQLEnumType:
        """``MovieOrderByInput``: ``title_ASC``, ``title_DESC``..."""
        if type_name not in self.order_enums:
            values: dict[str, GraphQLEnumValue] = {}
            for field in self.model.type(type_name).scalars:
                if field.comparable:
                    for direction in ("ASC", "DESC"):
                        key = f"{field.name}_{direction}"
                        values[key] = GraphQLEnumValue(key)
            self.order_enums[type_name] = GraphQLEnumType(names_for(type_name).order_by, values)
        return self.order_enums[type_name]

    # -- write inputs -------------------------------------------------------------------

    def _write_fields(self, type_name: str, creating: bool) -> dict[str, GraphQLInputField]:
        result: dict[str, GraphQLInputField] = {}
        for field in self.model.type(type_name).fields.values():
            if isinstance(field, ScalarField):
                if field.managed:
                    continue
                required = creating and field.required and not field.has_default
                result[field.name] = GraphQLInputField(self._value_type(field, required))
            else:
                result[field.name] = GraphQLInputField(self._relation_input(field, creating))
        return result

    def create_input(self, type_name: str) -> GraphQLInputObjectType:
        """``MovieCreateInput``."""
        return self._input(
            names_for(type_name).create_input, lambda: self._write_fields(type_name, creating=True)
        )

    def update_input(self, type_name: str) -> GraphQLInputObjectType:
        """``MovieUpdateInput``: every field optional; null clears an optional field."""
        return self._input(
            names_for(type_name).update_input, lambda: self._write_fields(type_name, creating=False)
        )

    def _relation_input(self, field: RelationField, creating: bool) -> GraphQLInputObjectType:
        target = names_for(field.target)
        create = self.create_input(field.target)
        unique = self.where_unique(field.target)
        if field.many:
            name = target.create_many if creating else target.update_many

            def many_fields() -> dict[str, GraphQLInputField]:
                fields = {
                    "create": GraphQLInputField(GraphQLList(GraphQLNonNull(create))),
                    "connect": GraphQLInputField(GraphQLList(GraphQLNonNull(unique))),
                }
                if not creating:
                    fields["disconnect"] = GraphQLInputField(GraphQLList(GraphQLNonNull(unique)))
                    fields["set"] = GraphQLInputField(
                        GraphQLList(GraphQLNonNull(unique)),
                        description="Link exactly these nodes: the ones linked now and not "
                        "named are disconnected.",
                    )
                return fields

            return self._input(name, many_fields)
        name = target.create_one if creating else target.update_one

        def one_fields() -> dict[str, GraphQLInputField]:
            fields = {"create": GraphQLInputField(create), "connect": GraphQLInputField(unique)}
            if not creating:
                fields["disconnect"] = GraphQLInputField(GraphQLBoolean)
            return fields

        return self._input(name, one_fields)

    # -- root fields --------------------------------------------------------------------

    def query_fields(self) -> FieldMap:
        """``movie``, ``movies`` and ``moviesCount`` for every type."""
        fields: FieldMap = {}
        for name, obj in self.objects.items():
            names = names_for(name)
            fields[names.single] = mark(
                GraphQLField(
                    obj,
                    args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID))},
                    resolve=resolvers.single(name),
                ),
                Root("single", name),
            )
            fields[names.many] = mark(
                GraphQLField(
                    GraphQLNonNull(GraphQLList(GraphQLNonNull(obj))),
                    args=self.list_args(name),
                    resolve=resolvers.many(name),
                ),
                Root("many", name),
            )
            fields[names.count] = mark(
                GraphQLField(
                    GraphQLNonNull(GraphQLInt),
                    args={"where": GraphQLArgument(self.where(name))},
                    resolve=resolvers.count(name),
                ),
                Root("count", name),
            )
        return fields

    def mutation_fields(self) -> FieldMap:
        """``createMovie``, ``updateMovie`` and ``deleteMovie`` for every type."""
        fields: FieldMap = {}
        id_arg = GraphQLArgument(GraphQLNonNull(GraphQLID))
        for name, obj in self.objects.items():
            names = names_for(name)
            result: GraphQLOutputType = GraphQLNonNull(obj)
            fields[names.create] = GraphQLField(
                result,
                args={"data": GraphQLArgument(GraphQLNonNull(self.create_input(name)))},
                resolve=resolvers.create(name),
            )
            fields[names.update] = GraphQLField(
                result,
                args={
                    "id": id_arg,
                    "data": GraphQLArgument(GraphQLNonNull(self.update_input(name))),
                },
                resolve=resolvers.update(name),
            )
            fields[names.delete] = GraphQLField(
                result, args={"id": id_arg}, resolve=resolvers.delete(name)
            )
        return fields


def build_schema(
    model: Model,
    extra_query: FieldsHook | None = None,
    extra_mutation: FieldsHook | None = None,
    guard: FieldGuard | None = None,
) -> GraphQLSchema:
    """The executable schema of ``model``, plus the root fields the hooks add.

    ``guard`` may give a scalar field a resolver that decides, per viewer, whether its value
    is shown.
    """
    builder = SchemaBuilder(model, guard)
    query = builder.query_fields()
    mutation = builder.mutation_fields()
    if extra_query:
        query.update(extra_query(builder))
    if extra_mutation:
        mutation.update(extra_mutation(builder))
    return GraphQLSchema(
        query=GraphQLObjectType("Query", query),
        mutation=GraphQLObjectType("Mutation", mutation),
        types=list(builder.objects.values()),
    )
