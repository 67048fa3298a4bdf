"""Bring the database in line with the model: at every start, and with ``bastion deploy``.

The plan comes from :mod:`bastion.store.schema_plan`. A start applies the safe changes (new types,
new optional fields, indexes) and refuses to run when any other change is pending, naming
each, so a server never serves a model its database does not hold. The stored User emails
are planned the same way (:mod:`bastion.store.emails`): rows from before their normal form
need a deploy, and rows that would become one address block it. ``deploy`` applies every
change in one transaction; those that drop or convert data only with ``force``. Nothing is
ever half applied: a refusal or a failure leaves the database as it was.

SQLite rebuilds a table to change or drop a column (Alembic's batch mode). Dropping the old
copy of a table other tables point at would, with foreign keys enforced, delete or block their
rows; so deploy runs on a connection with enforcement off and checks every reference with
``PRAGMA foreign_key_check`` before it commits.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from alembic.operations import Operations
from sqlalchemy import Column, MetaData, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateColumn

from bastion.errors import SchemaChangeRefused
from bastion.model.emails import FORM_VERSION
from bastion.store.auth.tables import META_TABLE
from bastion.store.database import Database
from bastion.store.emails import plan_emails
from bastion.store.schema_plan import Level, SchemaChange, operations, plan_changes
from bastion.store.tables import VALUE_TYPE

_TYPES_KEY = "model_tables"
_COLUMNS_KEY = "model_columns"
_EMAILS_KEY = "email_form"  # the version of the normal form the stored User emails have
_AT_START = (Level.DEPLOY, Level.DESTRUCTIVE, Level.BLOCKED)
# PostgreSQL's advisory lock key for changing the schema: any fixed 64-bit number other locks
# of this database do not take (attempts.py locks hashtext() values, 32-bit).
_SCHEMA_LOCK = 0x62617374696F6E  # "bastion"


@dataclass
class SyncReport:
    """What a sync or a deploy did (or, for a dry run, would do)."""

    fresh: bool = False
    created: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    changes: list[SchemaChange] = field(default_factory=list)
    applied: bool = False


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


def _apply(
    conn: Connection, metadata: MetaData, changes: list[SchemaChange], report: SyncReport
) -> None:
    """Apply ``changes`` in order: new tables, columns, rebuilds, indexes, dropped tables."""
    ops = operations(conn)
    new = {c.target.name for c in changes if c.kind == "add_table"}
    for table in metadata.sorted_tables:  # the model's own Table: its indexes come with it
        if table.name in new:
            table.create(conn)
            report.created.append(table.name)
    for change in changes:
        if change.kind == "add_column":
            assert change.table is not None
            _add_column(
                ops, conn, change.table, metadata.tables[change.table].c[change.target.name]
            )
            report.added.append(f"{change.table}.{change.target.name}")
    # Indexes go before columns change: PostgreSQL drops the index of a dropped column with
    # it, and dropping it again afterwards would fail.
    for change in changes:
        if change.kind == "remove_index":
            _index(ops, conn, change)
            report.indexes.append(change.text)
    steps: dict[str, list[SchemaChange]] = {}
    for change in changes:
        if change.step is not None and change.table is not None:
            steps.setdefault(change.table, []).append(change)
    for table_name, batch_changes in steps.items():
        with ops.batch_alter_table(table_name, recreate="auto") as batch:
            for change in batch_changes:
                assert change.step is not None
                change.step(batch)
    for change in changes:
        if change.rewrite is not None:
            change.rewrite(conn)
    for change in changes:
        if change.kind == "add_index":
            _index(ops, conn, change)
            report.indexes.append(change.text)
    dropped = [c.target for c in changes if c.kind == "remove_table"]
    names = {t.name for t in dropped}
    # Reflected tables know their references: those pointing at other dropped tables go first.
    for table in sorted(
        dropped, key=lambda t: -sum(fk.column.table.name in names for fk in t.foreign_keys)
    ):
        ops.drop_table(table.name)


def _index(ops: Operations, conn: Connection, change: SchemaChange) -> None:
    index = change.target
    assert index.table is not None and index.name is not None
    if change.kind == "remove_index":
        ops.drop_index(index.name, table_name=index.table.name)
        return
    try:
        index.create(conn)
    except IntegrityError:
        column = ", ".join(c.name for c in index.columns)
        raise SchemaChangeRefused(
            [
                f"{index.table.name}.{column} is now unique, but rows hold duplicate values; "
                "nothing was changed"
            ]
        ) from None


def _refusal(
    changes: list[SchemaChange], levels: tuple[Level, ...], advice: str
) -> SchemaChangeRefused:
    lines = [describe(c) for c in changes if c.level in levels]
    return SchemaChangeRefused([*lines, advice])


_SIGNS = {
    Level.SAFE: "+",
    Level.CLEANUP: "-",
    Level.DEPLOY: "~",
    Level.DESTRUCTIVE: "! (destructive)",
    Level.BLOCKED: "x (blocked)",
}


def describe(change: SchemaChange) -> str:
    """One line of a plan: a sign for its level, then what it does."""
    return f"{_SIGNS[change.level]} {change.text}"


def _one_at_a_time(conn: Connection) -> None:
    """On PostgreSQL, wait until no other transaction is changing the schema: nodes that
    start together on an empty database would each plan every table, and all but one fail on
    a duplicate CREATE TABLE. The lock ends with the transaction; at READ COMMITTED, what the
    plan reads next already holds the first node's tables. SQLite's writer is one anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))


def _read_meta(conn: Connection, metadata: MetaData) -> dict[str, Any]:
    meta = metadata.tables[META_TABLE]
    if not conn.dialect.has_table(conn, META_TABLE):
        return {}
    rows = conn.execute(
        select(meta.c.key, meta.c.value).where(
            meta.c.key.in_([_TYPES_KEY, _COLUMNS_KEY, _EMAILS_KEY])
        )
    )
    return {key: json.loads(value) for key, value in rows}


def _write_meta(
    conn: Connection, metadata: MetaData, owned: set[str], model_tables: list[str]
) -> None:
    meta = metadata.tables[META_TABLE]
    columns = {
        f"{table.name}.{column.name}": column.info[VALUE_TYPE]
        for table in metadata.sorted_tables
        for column in table.columns
        if VALUE_TYPE in column.info
    }
    keys = [_TYPES_KEY, _COLUMNS_KEY, _EMAILS_KEY]
    conn.execute(meta.delete().where(meta.c.key.in_(keys)))
    conn.execute(
        meta.insert(),
        [
            {"key": _TYPES_KEY, "value": json.dumps(sorted(owned | set(model_tables)))},
            {"key": _COLUMNS_KEY, "value": json.dumps(columns, sort_keys=True)},
            # Written only once no email change is pending: every row has the normal form.
            {"key": _EMAILS_KEY, "value": json.dumps(FORM_VERSION)},
        ],
    )


def _plan(conn: Connection, metadata: MetaData, stored: dict[str, Any]) -> list[SchemaChange]:
    """The model's changes, then those of the stored emails' values."""
    owned = set(stored.get(_TYPES_KEY, ()))
    changes = plan_changes(conn, metadata, owned, stored.get(_COLUMNS_KEY, {}))
    return changes + plan_emails(conn, stored.get(_EMAILS_KEY))


async def sync_schema(db: Database, metadata: MetaData, model_tables: list[str]) -> SyncReport:
    """At start: apply the safe changes, or refuse when any other is pending."""

    def run(conn: Connection) -> SyncReport:
        _one_at_a_time(conn)
        stored = _read_meta(conn, metadata)
        owned = set(stored.get(_TYPES_KEY, ()))
        changes = _plan(conn, metadata, stored)
        report = SyncReport(changes=changes)
        if any(c.level in _AT_START for c in changes):
            blocked = any(c.level is Level.BLOCKED for c in changes)
            advice = (
                "nothing was changed; revert these edits in schema.graphql, or move the data "
                "out first"
                if blocked
                else "nothing was changed; run `bastion deploy` to apply them "
                "(`bastion deploy --dry-run` shows the plan), or revert these edits in "
                "schema.graphql"
            )
            raise _refusal(changes, _AT_START, advice)
        _apply(conn, metadata, [c for c in changes if c.level is Level.SAFE], report)
        _write_meta(conn, metadata, owned, model_tables)
        report.fresh = bool(report.created) and not owned
        report.applied = True
        return report

    async with db.write() as conn:
        return await conn.run_sync(run)


async def check_schema(db: Database, metadata: MetaData) -> None:
    """Refuse (:class:`SchemaChangeRefused`) unless the database holds the model: for a
    process that takes up a model deployed by another, and changes nothing itself. Leftovers
    the model no longer has (a cleanup) do not count, as at a start."""

    def run(conn: Connection) -> None:
        changes = _plan(conn, metadata, _read_meta(conn, metadata))
        pending = [c for c in changes if c.level is not Level.CLEANUP]
        if pending:
            raise _refusal(
                pending, tuple(Level), "the database does not hold this model: deploy it"
            )

    async with db.read() as conn:
        await conn.run_sync(run)


AfterDeploy = Callable[[AsyncConnection], Awaitable[None]]
"""What a deploy also writes in its transaction, once every change is applied."""


async def deploy_schema(
    db: Database,
    metadata: MetaData,
    model_tables: list[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    also: AfterDeploy | None = None,
) -> SyncReport:
    """Apply every change of the plan in one transaction (``force`` for destructive ones),
    then ``also`` in the same transaction (the deployed project's record and its event).

    ``db`` must not enforce foreign keys on SQLite (see :class:`Database`): the references are
    checked once, before the commit, instead.
    """

    def run(conn: Connection) -> SyncReport:
        _one_at_a_time(conn)
        stored = _read_meta(conn, metadata)
        owned = set(stored.get(_TYPES_KEY, ()))
        changes = _plan(conn, metadata, stored)
        report = SyncReport(changes=changes)
        if dry_run:
            return report
        if any(c.level is Level.BLOCKED for c in changes):
            raise _refusal(
                changes,
                (Level.BLOCKED,),
                "nothing was changed; revert these edits in schema.graphql, or change the data "
                "first",
            )
        if not force and any(c.level is Level.DESTRUCTIVE for c in changes):
            raise _refusal(
                changes,
                (Level.DESTRUCTIVE,),
                "nothing was changed; these drop or convert data: run `bastion deploy --force` "
                "to apply them",
            )
        try:
            _apply(conn, metadata, changes, report)
        except DBAPIError as error:
            raise SchemaChangeRefused(
                [f"the database refused the change: {error.orig}", "nothing was changed"]
            ) from None
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({str(row[0]) for row in broken})
                raise SchemaChangeRefused(
                    [
                        f"the change would leave rows of {', '.join(tables)} pointing at nothing",
                        "nothing was changed",
                    ]
                )
        _write_meta(conn, metadata, owned, model_tables)
        report.fresh = bool(report.created) and not owned
        report.applied = True
        return report

    async with db.write() as conn:
        report = await conn.run_sync(run)
        if report.applied and also is not None:
            await also(conn)
        return report
