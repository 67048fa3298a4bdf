"""What it takes to bring the database in line with the model: a plan of changes.

Alembic's autogenerate comparison finds the differences between the tables the model asks for
and the tables the database has; this module turns each into a :class:`SchemaChange` that says in
the model's words what it does, how much it risks, and how to apply it with Alembic's
operations. One plan serves both callers: every start applies the safe changes and refuses
to run beside the others, and ``bastion deploy`` applies them all (``--force`` for those that
drop or convert data).

Some type changes are invisible to the database: String and enums are both text, lists and
JSON both JSON. So the value type of every field is recorded at each start and deploy, and a
field whose recorded type changed is refused when it holds values the new type cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import BatchOperations, Operations
from sqlalchemy import Column, Index, MetaData, Table, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.schema import ForeignKeyConstraint

from bastion.store.auth.tables import SYSTEM_PREFIX
from bastion.store.tables import VALUE_TYPE

_SHOWN_VALUES = 5
_INTEGER = re.compile(r"[+-]?\d+")


class Level(IntEnum):
    """How much a change risks, from harmless to impossible."""

    SAFE = 0
    """Applied at every start: a new type, a new optional field, an index."""
    CLEANUP = 1
    """Leftovers the model no longer has and that hold nothing (an empty table or field):
    dropped by ``bastion deploy``; a start leaves them."""
    DEPLOY = 2
    """Keeps every value but needs ``bastion deploy`` (a table rebuild): a start refuses."""
    DESTRUCTIVE = 3
    """Drops or converts data: ``bastion deploy --force``."""
    BLOCKED = 4
    """Cannot be applied as the data stands: revert the edit or change the data first."""


Step = Callable[[BatchOperations], None]


@dataclass
class SchemaChange:
    """One difference between the model and the database."""

    level: Level
    text: str
    """What it does, in the model's words: ``drop field Movie.rating (2 rows hold values)``."""
    table: str | None = None
    step: Step | None = None
    """A column step, run inside Alembic's batch for ``table`` (a rebuild on SQLite)."""
    kind: str = ""
    """Alembic's diff kind (``add_table``, ``remove_column``...)."""
    target: Any = None
    """The diff's object: the Table of a new or dropped type, the Index, the Column."""
    rewrite: Callable[[Connection], None] | None = None
    """A change of the rows' values (``bastion.store.emails``), run after the columns'."""


def rows_with_values(conn: Connection, table: str, column: str | None = None) -> int:
    """Rows of ``table`` (with a value in ``column``, when given)."""
    target = Table(table, MetaData(), *([Column(column)] if column else []))
    query = select(func.count()).select_from(target)
    if column:
        query = query.where(target.c[column].is_not(None))
    return int(conn.execute(query).scalar_one())


def _distinct_values(conn: Connection, table: str, column: str) -> list[Any]:
    target = Table(table, MetaData(), Column(column))
    query = select(target.c[column]).where(target.c[column].is_not(None)).distinct()
    return list(conn.execute(query).scalars())


def _values_outside(conn: Connection, table: str, column: str, allowed: list[str]) -> list[str]:
    target = Table(table, MetaData(), Column(column))
    query = (
        select(target.c[column])
        .where(target.c[column].is_not(None), target.c[column].not_in(allowed))
        .distinct()
        .limit(_SHOWN_VALUES)
    )
    return sorted(str(v) for v in conn.execute(query).scalars())


def _converts(value: Any, to: str) -> bool:
    """Whether a stored value reads as the GraphQL scalar ``to`` without losing anything."""
    if to in ("String", "ID"):
        return True
    if to == "Int":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, str) and _INTEGER.fullmatch(value.strip()) is not None
    if to == "Float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return True
        try:
            float(str(value))
        except ValueError:
            return False
        return True
    return False


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
    if not rows_with_values(conn, table, column):
        return None
    if same_type:
        lost = ", ".join(sorted(set(old["enum"]) - new_enum))
        return f"field {label}: enum {new['type'].strip('[]')} no longer has {lost}"
    return f"field {label} changed type ({old['type']} -> {new['type']})"


class _Planner:
    """Turns Alembic's diffs into changes, asking the rows what each would cost."""

    def __init__(
        self,
        conn: Connection,
        metadata: MetaData,
        owned: set[str],
        recorded: dict[str, dict[str, Any]],
    ) -> None:
        self.conn = conn
        self.metadata = metadata
        self.owned = owned
        self.recorded = recorded
        self.changes: list[SchemaChange] = []
        self.new_tables: set[str] = set()
        self.added: set[tuple[str, str]] = set()
        self.removed: set[tuple[str, str]] = set()
        self.retyped: set[tuple[str, str]] = set()

    def add(self, level: Level, text: str, **extra: Any) -> None:
        self.changes.append(SchemaChange(level, text, **extra))

    def plan(self) -> list[SchemaChange]:
        context = MigrationContext.configure(self.conn, opts={"compare_type": True})
        diffs = [
            change
            for diff in compare_metadata(context, self.metadata)
            for change in (diff if isinstance(diff, list) else [diff])
        ]
        self.new_tables = {d[1].name for d in diffs if d[0] == "add_table"}
        self.removed = {(d[2], d[3].name) for d in diffs if d[0] == "remove_column"}
        for change in diffs:
            handler = getattr(self, f"_{change[0]}", None)
            if handler is not None:  # modify_default and comments do not matter
                handler(change)
        self._value_types()
        self._collations()
        return self.changes

    # -- tables -----------------------------------------------------------------------------

    def _add_table(self, change: tuple[Any, ...]) -> None:
        table: Table = change[1]
        # Bastion's own tables (users' sessions, the audit log...) are no type of the model.
        what = "Bastion's table" if table.name.startswith(SYSTEM_PREFIX) else "type"
        self.add(Level.SAFE, f"add {what} {table.name}", kind="add_table", target=table)

    def _remove_table(self, change: tuple[Any, ...]) -> None:
        table: Table = change[1]
        if table.name not in self.owned:
            return  # not Bastion's: never touched
        rows = rows_with_values(self.conn, table.name)
        level = Level.DESTRUCTIVE if rows else Level.CLEANUP
        text = (
            f"drop type {table.name} and its {rows} rows"
            if rows
            else f"drop type {table.name} (no rows)"
        )
        self.add(level, text, kind="remove_table", target=table)

    # -- columns ----------------------------------------------------------------------------

    def _add_column(self, change: tuple[Any, ...]) -> None:
        _, _, table, column = change
        self.added.add((table, column.name))
        label = f"{table}.{column.name}"
        if column.nullable:
            self.add(
                Level.SAFE, f"add field {label}", table=table, kind="add_column", target=column
            )
        elif rows_with_values(self.conn, table):
            self.add(
                Level.BLOCKED,
                f"new required field {label} cannot be added to an existing table with rows: "
                "add it optional, give every row a value, then make it required",
            )
        else:
            new = column._copy()
            self.add(
                Level.DEPLOY,
                f"add required field {label} (the table is empty)",
                table=table,
                step=lambda batch: batch.add_column(new),
            )

    def _remove_column(self, change: tuple[Any, ...]) -> None:
        _, _, table, column = change
        if table not in self.owned:
            return
        name = column.name
        values = rows_with_values(self.conn, table, name)
        label = f"{table}.{name}"

        def drop(batch: BatchOperations) -> None:
            batch.drop_column(name)

        if values:
            self.add(
                Level.DESTRUCTIVE,
                f"drop field {label} ({values} rows hold values)",
                table=table,
                step=drop,
            )
        elif not column.nullable and rows_with_values(self.conn, table):
            self.add(
                Level.DEPLOY,
                f"drop field {label} (required in the database)",
                table=table,
                step=drop,
            )
        else:
            self.add(Level.CLEANUP, f"drop field {label} (no values)", table=table, step=drop)

    def _modify_type(self, change: tuple[Any, ...]) -> None:
        _, _, table, name, info, old_sql, new_sql = change
        self.retyped.add((table, name))
        column = self.metadata.tables[table].c[name]
        old = self.recorded.get(f"{table}.{name}", {}).get("type", str(old_sql))
        new = column.info.get(VALUE_TYPE, {}).get("type", str(new_sql))
        label = f"{table}.{name}"
        values = _distinct_values(self.conn, table, name)
        bad = [v for v in values if not _converts(v, new)]
        dialect = self.conn.dialect

        def convert(batch: BatchOperations) -> None:
            compiled = new_sql.compile(dialect=dialect)
            batch.alter_column(
                name,
                type_=new_sql,
                existing_type=old_sql,
                existing_nullable=info.get("existing_nullable", True),
                postgresql_using=f'"{name}"::{compiled}',
            )

        if not values:
            self.add(
                Level.DEPLOY,
                f"change field {label} from {old} to {new} (no values)",
                table=table,
                step=convert,
            )
        elif bad:
            shown = ", ".join(repr(v) for v in sorted(bad, key=str)[:_SHOWN_VALUES])
            self.add(
                Level.BLOCKED,
                f"field {label} changed type ({old} -> {new}), but rows hold values that are not "
                f"{new}: {shown}",
            )
        else:
            self.add(
                Level.DESTRUCTIVE,
                f"convert field {label} from {old} to {new} ({len(values)} distinct values)",
                table=table,
                step=convert,
            )

    def _modify_nullable(self, change: tuple[Any, ...]) -> None:
        _, _, table, name, info, _, nullable = change
        label = f"{table}.{name}"
        existing = info.get("existing_type")

        def alter(batch: BatchOperations) -> None:
            batch.alter_column(name, nullable=nullable, existing_type=existing)

        if nullable:
            self.add(Level.DEPLOY, f"make field {label} optional", table=table, step=alter)
            return
        missing = rows_with_values(self.conn, table) - rows_with_values(self.conn, table, name)
        if missing:
            self.add(
                Level.BLOCKED,
                f"field {label} was made required, but {missing} rows have no value for it",
            )
        else:
            self.add(Level.DEPLOY, f"make field {label} required", table=table, step=alter)

    # -- indexes and relations ----------------------------------------------------------------

    def _add_index(self, change: tuple[Any, ...]) -> None:
        self._index(change[1], "add_index")

    def _remove_index(self, change: tuple[Any, ...]) -> None:
        self._index(change[1], "remove_index")

    def _index(self, index: Index, kind: str) -> None:
        if index.table is None or index.table.name in self.new_tables:
            return  # made with its table
        verb = "add" if kind == "add_index" else "drop"
        columns = ", ".join(c.name for c in index.columns)
        self.add(
            Level.SAFE,
            f"{verb} index {index.name} on {index.table.name}.{columns}",
            kind=kind,
            target=index,
        )

    def _add_fk(self, change: tuple[Any, ...]) -> None:
        constraint: ForeignKeyConstraint = change[1]
        table = constraint.table.name
        columns = [c.name for c in constraint.columns]
        if any((table, c) in self.added for c in columns):
            return  # made with its column
        name = str(constraint.name)
        referent = constraint.referred_table.name
        remote = [e.column.name for e in constraint.elements]
        ondelete = constraint.ondelete

        def create(batch: BatchOperations) -> None:
            batch.create_foreign_key(name, referent, columns, remote, ondelete=ondelete)

        self.add(
            Level.DEPLOY,
            f"link {table}.{', '.join(columns)} to {referent}",
            table=table,
            step=create,
        )

    def _remove_fk(self, change: tuple[Any, ...]) -> None:
        constraint: ForeignKeyConstraint = change[1]
        table = constraint.table.name
        columns = [c.name for c in constraint.columns]
        if table not in self.owned or any((table, c) in self.removed for c in columns):
            return  # the column goes, and its constraint with it
        name = constraint.name

        def drop(batch: BatchOperations) -> None:
            batch.drop_constraint(str(name), type_="foreignkey")

        self.add(
            Level.DEPLOY,
            f"unlink {table}.{', '.join(columns)}",
            table=table,
            step=drop if name else None,
        )

    # -- collations -----------------------------------------------------------------------------

    def _collations(self) -> None:
        """Bastion's own text columns made before they compared by code point (``COLLATE
        "C"``, :func:`bastion.store.columns.text`) on PostgreSQL: Alembic does not see a
        collation only one side names, so they are found here and given it. Values stay as
        they are (only their order changes), so it is applied at the next start."""
        if self.conn.dialect.name != "postgresql":
            return
        inspector = inspect(self.conn)
        for table in self.metadata.sorted_tables:
            if not table.name.startswith(SYSTEM_PREFIX) or table.name in self.new_tables:
                continue
            found = {c["name"]: c for c in inspector.get_columns(table.name)}
            for column in table.columns:
                wanted = column.type.dialect_impl(self.conn.dialect)
                collation = getattr(wanted, "collation", None)
                have = found.get(column.name)
                if collation is None or have is None:
                    continue
                if getattr(have["type"], "collation", None) == collation:
                    continue
                self.add(
                    Level.SAFE,
                    f'compare {table.name}.{column.name} by code point (COLLATE "{collation}")',
                    table=table.name,
                    step=_collate(column.name, wanted, have["type"], have["nullable"]),
                )

    # -- value types ----------------------------------------------------------------------------

    def _value_types(self) -> None:
        for table in self.metadata.sorted_tables:
            if table.name in self.new_tables:
                continue
            for column in table.columns:
                key = (table.name, column.name)
                if VALUE_TYPE not in column.info or key in self.added or key in self.retyped:
                    continue
                reason = _value_type_change(
                    self.conn,
                    table.name,
                    column.name,
                    self.recorded.get(f"{table.name}.{column.name}"),
                    column.info[VALUE_TYPE],
                )
                if reason:
                    self.add(Level.BLOCKED, reason)


def _collate(name: str, wanted: Any, existing: Any, nullable: bool) -> Step:
    def step(batch: BatchOperations) -> None:
        batch.alter_column(name, type_=wanted, existing_type=existing, existing_nullable=nullable)

    return step


def plan_changes(
    conn: Connection, metadata: MetaData, owned: set[str], recorded: dict[str, dict[str, Any]]
) -> list[SchemaChange]:
    """Every change that brings the database of ``conn`` to ``metadata``.

    ``owned`` are the tables Bastion made (others are never touched); ``recorded`` the value
    types of the last start.
    """
    return _Planner(conn, metadata, owned, recorded).plan()


def operations(conn: Connection) -> Operations:
    """Alembic's operations on ``conn``."""
    return Operations(MigrationContext.configure(conn))
