"""Tables generated from the model with SQLAlchemy Core.

One table per type, named like the type, one column per scalar field, one key column per
to-one relation. Uniqueness is a unique index (not a table constraint) because an index can be
added to an existing SQLite table and a constraint cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
)
from sqlalchemy.types import TypeEngine

from bastion.model import Model, ObjectType, OnDelete, ScalarField, ScalarKind
from bastion.store.columns import UTCDateTime, text

ID_LENGTH = 24
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def column_type(field: ScalarField) -> TypeEngine[Any]:
    """The SQL type of a scalar field."""
    if field.is_list or field.kind is ScalarKind.JSON:
        return JSON()
    match field.kind:
        case ScalarKind.ID:
            return text(ID_LENGTH)
        case ScalarKind.INT:
            return Integer()
        case ScalarKind.FLOAT:
            return Float()
        case ScalarKind.BOOLEAN:
            return Boolean(create_constraint=False)
        case ScalarKind.DATETIME:
            return UTCDateTime()
        case _:
            return text()


VALUE_TYPE = "bastion_type"
"""Key of ``Column.info`` holding the field's value type (see :func:`value_type`)."""


def value_type(field: ScalarField, enums: dict[str, list[str]]) -> dict[str, Any]:
    """The field's type as the GraphQL API sees it, for the start-up sync to compare.

    Several field types share one SQL type (String and enums are text, lists and JSON are
    JSON), so the database alone cannot tell that ``[String!]`` became ``[Int!]`` or that an
    enum lost a value; this record can. Enum fields also carry their values.
    """
    name = field.enum if field.kind is ScalarKind.ENUM else field.kind.value
    result: dict[str, Any] = {"type": f"[{name}]" if field.is_list else str(name)}
    if field.enum is not None:
        result["enum"] = list(enums[field.enum])
    return result


def unique_index_name(table: str, column: str) -> str:
    """The name of the unique index of ``table.column``; errors are mapped back through it."""
    return f"uq_{table}_{column}"


@dataclass(frozen=True)
class Tables:
    """The tables of one model, by type name."""

    metadata: MetaData
    by_type: dict[str, Table]

    def __getitem__(self, type_name: str) -> Table:
        return self.by_type[type_name]


def _scalar_column(field: ScalarField, enums: dict[str, list[str]]) -> Column[object]:
    if field.name == "id":
        return Column("id", text(ID_LENGTH), primary_key=True)
    return Column(
        field.name,
        column_type(field),
        nullable=not field.required,
        info={VALUE_TYPE: value_type(field, enums)},
    )


def _type_table(obj: ObjectType, metadata: MetaData, enums: dict[str, list[str]]) -> Table:
    columns: list[Column[object]] = [_scalar_column(f, enums) for f in obj.scalars]
    indexes: list[Index] = []
    for field in obj.scalars:
        if field.unique:
            indexes.append(Index(unique_index_name(obj.name, field.name), field.name, unique=True))
    for relation in obj.foreign_keys:
        ondelete = {
            OnDelete.SET_NULL: "SET NULL",
            OnDelete.CASCADE: "CASCADE",
            OnDelete.RESTRICT: "RESTRICT",
        }[relation.on_delete]
        columns.append(
            Column(
                relation.column,
                text(ID_LENGTH),
                ForeignKey(f"{relation.target}.id", ondelete=ondelete),
                nullable=not relation.required,
            )
        )
        if relation.target_many:
            indexes.append(Index(f"ix_{obj.name}_{relation.column}", relation.column))
        else:
            indexes.append(
                Index(unique_index_name(obj.name, relation.column), relation.column, unique=True)
            )
    return Table(obj.name, metadata, *columns, *indexes)


def build_tables(model: Model, metadata: MetaData | None = None) -> Tables:
    """Make the tables of ``model``, in ``metadata`` if given (auth tables share it)."""
    metadata = metadata or MetaData(naming_convention=NAMING_CONVENTION)
    by_type = {name: _type_table(obj, metadata, model.enums) for name, obj in model.types.items()}
    return Tables(metadata=metadata, by_type=by_type)
