"""Bring the database in line with the model at start, without ever losing data.

Alembic's autogenerate comparison computes the difference between the tables the model asks
for and the tables the database has. At start Bastion applies only what is safe everywhere:
new tables, new optional columns, new and dropped indexes. Anything else (a removed type or
field holding data, a changed type, a field made required) stops the start with a message
naming it; nothing is written in that case.

Some type changes are invisible to the database: String and enums are both text, lists and JSON
both JSON. So the value type of every field is recorded at each start, and a field whose
recorded type changed is refused when it holds values the new type cannot read (an enum that
lost a value still in use, ``[String!]`` become ``[Int!]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Index, MetaData, Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateColumn

from bastion.errors import SchemaChangeRefused
from bastion.store.database import Database
from bastion.store.system import META_TABLE
from bastion.store.tables import VALUE_TYPE

_TYPES_KEY = "model_tables"
_COLUMNS_KEY = "model_columns"
_SHOWN_VALUES = 5


@dataclass
class SyncReport:
    """What a sync did."""

    fresh: bool = False
    created: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)


def _rows_with_values(conn: Connection, table: str, column: str | None = None) -> int:
    target = Table(table, MetaData(), *([Column(column)] if column else []))
    query = select(func.count()).select_from(target)
    if column:
        query = query.where(target.c[column].is_not(None))
    return int(conn.execute(query).scalar_one())


def _values_outside(conn: Connection, table: str, column: str, allowed: list[str]) -> list[str]:
    target = Table(table, MetaData(), Column(column))
    query = (
        select(target.c[column])
        .where(target.c[column].is_not(None), target.c[column].not_in(allowed))
        .distinct()
        .limit(_SHOWN_VALUES)
    )
    return sorted(str(v) for v in conn.execute(query).scalars())


def _value_type_change(
    conn: Connection, table: str, column: str, old: dict[str, Any] | None, new: dict[str, Any]
) -> str | None:
    """Why a column whose SQL type stays the same cannot take its new value type, if it cannot."""
    label = f"{table}.{column}"
    new_enum = set(new.get("enum", ()))
    same_type = old is not None and old["type"] == new["type"]
    if old is not None and same_type and set(old.get("enum", ())) <= new_enum:
        return None  # the same type, or an enum with more values: every stored value still fits
    if new_enum and not new["type"].startswith("["):
        # Stored text is readable when every value is one of the enum's; ask the rows.
        outside = _values_outside(conn, table, column, sorted(new_enum))
        if not outside:
            return None
        return f"field {label} holds values that enum {new['type']} lacks ({', '.join(outside)})"
    if old is None:
        return None  # recorded by an older version: nothing to compare with
    if new["type"] == "JSON" or (new["type"] == "String" and "enum" in old):
        return None  # JSON holds any list, and text holds any enum value
    if not _rows_with_values(conn, table, column):
        return None
    if same_type:
        lost = ", ".join(sorted(set(old["enum"]) - new_enum))
        return f"field {label}: enum {new['type'].strip('[]')} no longer has {lost}"
    return f"field {label} changed type ({old['type']} -> {new['type']})"


def _add_column(ops: Operations, conn: Connection, table: str, column: Column[Any]) -> None:
    if conn.dialect.name != "sqlite" or not column.foreign_keys:
        ops.add_column(table, column._copy())
        return
    # SQLite cannot add a constraint to a table, but it can add a column carrying an inline
    # REFERENCES clause; Alembic's add_column would silently drop the foreign key there.
    prep = conn.dialect.identifier_preparer
    fk = next(iter(column.foreign_keys))
    spec = str(CreateColumn(column).compile(dialect=conn.dialect))
    target = fk.column
    ddl = (
        f"ALTER TABLE {prep.quote(table)} ADD COLUMN {spec} REFERENCES "
        f"{prep.quote(target.table.name)} ({prep.quote(target.name)})"
    )
    if fk.ondelete:
        ddl += f" ON DELETE {fk.ondelete}"
    conn.exec_driver_sql(ddl)


def _plan(
    conn: Connection,
    metadata: MetaData,
    owned: set[str],
    recorded: dict[str, dict[str, Any]],
) -> SyncReport:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    diffs = compare_metadata(context, metadata)
    ops = Operations(context)
    report = SyncReport()
    refused: list[str] = []
    new_tables = {d[1].name for d in diffs if isinstance(d, tuple) and d[0] == "add_table"}
    added_columns: set[tuple[str, str]] = set()
    retyped: set[tuple[str, str]] = set()
    indexes: list[tuple[str, Index]] = []
    for diff in diffs:
        for change in diff if isinstance(diff, list) else [diff]:
            kind = change[0]
            if kind == "add_table":
                continue
            if kind == "remove_table":
                name = change[1].name
                if name in owned and _rows_with_values(conn, name):
                    refused.append(
                        f"type {name} was removed from the model, but its table holds rows"
                    )
            elif kind == "add_column":
                _, _, table, column = change
                if not column.nullable:
                    refused.append(
                        f"new required field {table}.{column.name} cannot be added "
                        "to an existing table: make it optional"
                    )
                added_columns.add((table, column.name))
            elif kind == "remove_column":
                _, _, table, column = change
                if table in owned and _rows_with_values(conn, table, column.name):
                    refused.append(
                        f"field {table}.{column.name} was removed from the model, "
                        "but rows hold values for it"
                    )
                elif table in owned and not column.nullable and _rows_with_values(conn, table):
                    refused.append(
                        f"field {table}.{column.name} was removed, but the "
                        "database still requires it"
                    )
            elif kind == "modify_type":
                _, _, table, column, _, old, new = change
                retyped.add((table, column))
                refused.append(f"field {table}.{column} changed type ({old} -> {new})")
            elif kind == "modify_nullable":
                _, _, table, column, _, _, nullable = change
                state = "optional" if nullable else "required"
                refused.append(f"field {table}.{column} was made {state}")
            elif kind in ("add_index", "remove_index"):
                index = change[1]
                if index.table is not None and index.table.name not in new_tables:
                    indexes.append((kind, index))
            elif kind in ("add_fk", "remove_fk"):
                constraint = change[1]
                columns = {c.name for c in constraint.columns}
                if not any((constraint.table.name, c) in added_columns for c in columns):
                    refused.append(
                        f"the relation on {constraint.table.name}."
                        f"{', '.join(sorted(columns))} changed"
                    )
            # modify_default and comment changes do not matter: defaults live in the model.
    for table in metadata.sorted_tables:
        if table.name in new_tables:
            continue
        for column in table.columns:
            key = (table.name, column.name)
            if VALUE_TYPE not in column.info or key in added_columns or key in retyped:
                continue
            reason = _value_type_change(
                conn,
                table.name,
                column.name,
                recorded.get(f"{table.name}.{column.name}"),
                column.info[VALUE_TYPE],
            )
            if reason:
                refused.append(reason)
    if refused:
        raise SchemaChangeRefused(
            [f"cannot apply at start: {reason}" for reason in refused]
            + [
                "nothing was changed; revert these edits in schema.graphql, or move the data "
                "out first"
            ]
        )
    for table in metadata.sorted_tables:
        if table.name in new_tables:
            table.create(conn)
            report.created.append(table.name)
    for table_name, column_name in sorted(added_columns):
        _add_column(ops, conn, table_name, metadata.tables[table_name].c[column_name])
        report.added.append(f"{table_name}.{column_name}")
    for kind, index in indexes:
        assert index.table is not None and index.name is not None
        if kind == "add_index":
            try:
                index.create(conn)
            except IntegrityError:
                column = ", ".join(c.name for c in index.columns)
                raise SchemaChangeRefused(
                    [
                        f"cannot apply at start: {index.table.name}.{column} is now unique, "
                        "but rows hold duplicate values; nothing was changed"
                    ]
                ) from None
        else:
            ops.drop_index(index.name, table_name=index.table.name)
        report.indexes.append(f"{kind.split('_')[0]} {index.name}")
    report.fresh = bool(new_tables) and not owned
    return report


async def sync_schema(db: Database, metadata: MetaData, model_tables: list[str]) -> SyncReport:
    """Create what is missing and refuse what is unsafe, in one transaction."""

    def run(conn: Connection) -> SyncReport:
        meta = metadata.tables[META_TABLE]
        stored: dict[str, Any] = {}
        if conn.dialect.has_table(conn, META_TABLE):
            rows = conn.execute(
                select(meta.c.key, meta.c.value).where(meta.c.key.in_([_TYPES_KEY, _COLUMNS_KEY]))
            )
            stored = {key: json.loads(value) for key, value in rows}
        owned = set(stored.get(_TYPES_KEY, ()))
        report = _plan(conn, metadata, owned, stored.get(_COLUMNS_KEY, {}))
        columns = {
            f"{table.name}.{column.name}": column.info[VALUE_TYPE]
            for table in metadata.sorted_tables
            for column in table.columns
            if VALUE_TYPE in column.info
        }
        conn.execute(meta.delete().where(meta.c.key.in_([_TYPES_KEY, _COLUMNS_KEY])))
        conn.execute(
            meta.insert(),
            [
                {"key": _TYPES_KEY, "value": json.dumps(sorted(owned | set(model_tables)))},
                {"key": _COLUMNS_KEY, "value": json.dumps(columns, sort_keys=True)},
            ],
        )
        return report

    async with db.write() as conn:
        return await conn.run_sync(run)
