"""Naming rules: which names a model may use, and the GraphQL names made from them.

One home for every generated name, so that the schema builder, the resolvers and the collision
check in the SDL parser agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bastion.model.auth_names import AUTH_ROOT_FIELDS
from bastion.model.plural import plural_word

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FIELD_NAME = re.compile(r"^[a-z][A-Za-z0-9_]*$")
ENUM_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

SCALAR_NAMES = frozenset({"ID", "String", "Int", "Float", "Boolean", "DateTime", "JSON"})

# Type and root-field names that Bastion itself defines (now or in the auth layers), so a
# model cannot take them.
RESERVED_TYPE_NAMES = frozenset(
    {
        "Query",
        "Mutation",
        "Subscription",
        "Viewer",
        "Session",
        "ApiKey",
        "Identity",
        "AuditEvent",
        "Node",
    }
    | SCALAR_NAMES
)
# `node` is the engine's; the others are the auth contract's. All but `changeEmail`, which came
# after this list and was never added to it: a model type `ChangeEmail` generates the Query field
# `changeEmail`, which does not meet the Mutation of that name, and such a model loads today.
# Reserving it too would refuse that model, a change of behaviour left for its own issue.
RESERVED_ROOT_FIELDS = frozenset({"node"} | (AUTH_ROOT_FIELDS.keys() - {"changeEmail"}))

ENUM_VALUE_FORBIDDEN = frozenset({"true", "false", "null"})


def lower_first(name: str) -> str:
    """``MovieTag`` -> ``movieTag``."""
    return name[:1].lower() + name[1:]


def plural(name: str) -> str:
    """The English plural of a PascalCase type name: ``Movie`` -> ``Movies``."""
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name) or [name]
    last = plural_word(words[-1].lower())
    result = "".join(words[:-1]) + last[:1].upper() + last[1:]
    # Nouns whose plural is the singular (Sheep) would make `sheep` mean both one and many.
    return result if result != name else name + "List"


@dataclass(frozen=True)
class TypeNames:
    """Every GraphQL name generated for one model type."""

    type: str
    single: str
    many: str
    count: str
    create: str
    update: str
    delete: str
    where: str
    where_unique: str
    order_by: str
    create_input: str
    update_input: str
    create_one: str
    create_many: str
    update_one: str
    update_many: str

    @property
    def root_fields(self) -> tuple[str, ...]:
        """Names this type adds to Query and Mutation."""
        return (self.single, self.many, self.count, self.create, self.update, self.delete)

    @property
    def input_types(self) -> tuple[str, ...]:
        """Names of the input and enum types generated for this type."""
        return (
            self.where,
            self.where_unique,
            self.order_by,
            self.create_input,
            self.update_input,
            self.create_one,
            self.create_many,
            self.update_one,
            self.update_many,
        )


@cache
def names_for(type_name: str) -> TypeNames:
    """The generated names of ``type_name``."""
    many = lower_first(plural(type_name))
    return TypeNames(
        type=type_name,
        single=lower_first(type_name),
        many=many,
        count=f"{many}Count",
        create=f"create{type_name}",
        update=f"update{type_name}",
        delete=f"delete{type_name}",
        where=f"{type_name}WhereInput",
        where_unique=f"{type_name}WhereUniqueInput",
        order_by=f"{type_name}OrderByInput",
        create_input=f"{type_name}CreateInput",
        update_input=f"{type_name}UpdateInput",
        create_one=f"{type_name}CreateOneInput",
        create_many=f"{type_name}CreateManyInput",
        update_one=f"{type_name}UpdateOneInput",
        update_many=f"{type_name}UpdateManyInput",
    )


STRING_FILTERS = (
    "not",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "contains",
    "not_contains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
)
ORDERED_FILTERS = ("not", "in", "not_in", "lt", "lte", "gt", "gte")
EQUALITY_FILTERS = ("not", "in", "not_in")
BOOLEAN_FILTERS = ("not",)
TO_MANY_FILTERS = ("some", "every", "none")
