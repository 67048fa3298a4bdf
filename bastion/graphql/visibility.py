"""What introspection shows: root-only fields are hidden from everyone but root tokens.

One schema validates and executes every request, so a non-root caller who names a root-only
field gets that field's ``FORBIDDEN`` rather than a validation error. Introspection is the one
place that answers differently per viewer: ``__schema`` and ``__type`` of a non-root request
read a second schema, built from the same types without the root-only root fields.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    SchemaMetaFieldDef,
    TypeMetaFieldDef,
)
from graphql.language import FieldNode
from graphql.pyutils import Path

from bastion.graphql.context import RequestContext
from bastion.graphql.ordering import SettledRoots

ROOT_ONLY = "bastionRootOnly"
"""The extension key marking a root field as root-only: hidden from non-root introspection."""


def _is_root_only(field: GraphQLField) -> bool:
    return bool(field.extensions and field.extensions.get(ROOT_ONLY))


def _without_root_only(root: GraphQLObjectType | None) -> GraphQLObjectType | None:
    if root is None:
        return None
    fields = {name: f for name, f in root.fields.items() if not _is_root_only(f)}
    return GraphQLObjectType(root.name, fields, description=root.description)


def _reached(fields: dict[str, GraphQLField]) -> set[str]:
    """The names of the types ``fields`` reach (their arguments and results, transitively)."""
    if not fields:
        return set()
    return set(GraphQLSchema(query=GraphQLObjectType("Reached", fields)).type_map) - {"Reached"}


def public_schema(schema: GraphQLSchema) -> GraphQLSchema:
    """``schema`` as non-root callers see it: no root-only root fields, nor the types only
    they reach (``AuditEvent``)."""
    roots = {schema.query_type, schema.mutation_type, schema.subscription_type}
    query = _without_root_only(schema.query_type)
    mutation = _without_root_only(schema.mutation_type)
    hidden: dict[str, GraphQLField] = {}
    public: dict[str, GraphQLField] = {}
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for name, field in root.fields.items():
            (hidden if _is_root_only(field) else public)[f"{root.name}_{name}"] = field
    only_root = _reached(hidden) - _reached(public)
    return GraphQLSchema(
        query=query,
        mutation=mutation,
        # Every other named type but those, so that a type no field reaches (a model type
        # known only through the Node interface) is still described.
        types=[
            t
            for name, t in schema.type_map.items()
            if t not in roots and not name.startswith("__") and name not in only_root
        ],
        directives=schema.directives,
    )


def hidden_names(schema: GraphQLSchema, public: GraphQLSchema) -> re.Pattern[str] | None:
    """A pattern matching, in a document's text, any name ``public`` lacks: the root-only root
    fields and the types only they reach. A document whose text it does not match validates
    the same against both schemas (a GraphQL name cannot be escaped, so it appears as it is);
    None when there are no such names."""
    names = set(schema.type_map) - set(public.type_map)
    for root in (schema.query_type, schema.mutation_type):
        if root is not None:
            names |= {name for name, field in root.fields.items() if _is_root_only(field)}
    if not names:
        return None
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b")


def executor_for(public: GraphQLSchema) -> type[SettledRoots]:
    """The graphql-core executor class that answers introspection from ``public`` for non-root."""

    class _ViewerExecutor(SettledRoots):
        def build_resolve_info(
            self,
            field_def: GraphQLField,
            field_nodes: list[FieldNode],
            parent_type: GraphQLObjectType,
            path: Path,
        ) -> GraphQLResolveInfo[Any]:
            info = super().build_resolve_info(field_def, field_nodes, parent_type, path)
            if field_def is SchemaMetaFieldDef or field_def is TypeMetaFieldDef:
                context = self.context_value
                if not (isinstance(context, RequestContext) and context.viewer.is_privileged):
                    return info._replace(schema=public)
            return info

    return _ViewerExecutor
