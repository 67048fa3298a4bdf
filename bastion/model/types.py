"""The data model: types, fields and relations, as parsed from ``schema.graphql``.

The model is plain data. The store turns it into tables and the graphql layer into a schema;
neither of them parses SDL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ScalarKind(StrEnum):
    """The scalar types a field may have."""

    ID = "ID"
    STRING = "String"
    INT = "Int"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    DATETIME = "DateTime"
    JSON = "JSON"
    ENUM = "Enum"


class OnDelete(StrEnum):
    """What happens to nodes that point at a deleted node through a to-one field."""

    SET_NULL = "SET_NULL"
    CASCADE = "CASCADE"
    RESTRICT = "RESTRICT"


MANAGED_TIMESTAMPS = ("createdAt", "updatedAt")
"""DateTime fields with these names are set by the server, never by the client."""


@dataclass(frozen=True)
class ScalarField:
    """A field holding a value: ``title: String!``, ``tags: [String!]``."""

    name: str
    kind: ScalarKind
    required: bool = False
    is_list: bool = False
    unique: bool = False
    default: Any = None
    has_default: bool = False
    enum: str | None = None

    @property
    def managed(self) -> bool:
        """True for ``id`` and the timestamps the server maintains."""
        return self.name == "id" or (
            self.name in MANAGED_TIMESTAMPS and self.kind is ScalarKind.DATETIME
        )

    @property
    def comparable(self) -> bool:
        """Whether the field can be filtered with ``_lt``/``_in`` and sorted."""
        return not self.is_list and self.kind is not ScalarKind.JSON


@dataclass(frozen=True)
class Relation:
    """A link between two types, stored as a foreign key on ``holder``.

    ``holder_field`` is the to-one field on the holder (None when only the other side is
    declared); ``target_field`` is the field on the target that points back (None when the
    back side is not declared). ``column`` names the foreign-key column on the holder's table.
    """

    name: str
    holder: str
    holder_field: str | None
    target: str
    target_field: str | None
    target_many: bool
    column: str
    required: bool
    on_delete: OnDelete


@dataclass(frozen=True)
class RelationField:
    """A field pointing at another type: ``director: Person`` or ``movies: [Movie!]!``."""

    name: str
    target: str
    many: bool
    required: bool
    relation: Relation

    @property
    def holds_key(self) -> bool:
        """True when this type's table holds the foreign key of the relation."""
        return not self.many and self.relation.holder_field == self.name


Field = ScalarField | RelationField


@dataclass
class ObjectType:
    """A type of the model; each becomes a table and a set of GraphQL fields."""

    name: str
    fields: dict[str, Field] = field(default_factory=dict)
    builtin: bool = False
    # Relations whose foreign key lives on this type's table but which have no field here
    # (a list declared only on the other side).
    hidden_keys: list[Relation] = field(default_factory=list)

    @property
    def scalars(self) -> list[ScalarField]:
        """The scalar fields, in declaration order."""
        return [f for f in self.fields.values() if isinstance(f, ScalarField)]

    @property
    def relations(self) -> list[RelationField]:
        """The relation fields, in declaration order."""
        return [f for f in self.fields.values() if isinstance(f, RelationField)]

    @property
    def foreign_keys(self) -> list[Relation]:
        """Every relation whose key column lives on this type's table."""
        declared = [f.relation for f in self.relations if f.holds_key]
        return declared + self.hidden_keys


@dataclass
class Model:
    """The whole data model of a project."""

    types: dict[str, ObjectType]
    enums: dict[str, list[str]]
    relations: list[Relation]

    def type(self, name: str) -> ObjectType:
        """The type called ``name`` (which must exist)."""
        return self.types[name]

    def pointing_at(self, name: str) -> list[Relation]:
        """Relations whose foreign key points at type ``name``."""
        return [r for r in self.relations if r.target == name]
