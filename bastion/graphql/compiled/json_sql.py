"""Root fields SQLite answers as JSON text: one statement writes the whole answer.

For a list of a thousand rows, Python's part of the compiled path (rows made into dicts, dicts
projected, the answer encoded) costs far more than SQLite's. When every field below a root
field is one whose JSON SQLite writes exactly as the projectors and the response encoder would,
the root field's answer is one ``SELECT``: ``json_object`` per row, a correlated subquery per
relation (``json_group_array`` of an ordered, windowed derived table for a to-many), the rows'
read rules and the list's ``where``, ``orderBy``, ``first`` and ``skip`` as the reader writes
them (:class:`bastion.store.Reader`), over an alias of each table so that a type met at several
levels stays apart. The text it returns goes into the response as it is
(:class:`bastion.graphql.response_body.RawJSON`).

What SQLite writes the same way: text (``String``, ``ID``, an enum whose values are their
names), ``Int`` within 32 bits, ``Boolean``, ``__typename``, objects and lists of them. Where a
row holds what the projectors would answer with an error or another spelling (a null in a
non-null field, an ``Int`` out of range, a value of another storage class, a missing non-null
relation), the statement stops on ``json('!')`` (SQLite's "malformed JSON") and the field is
answered again by the projectors, which give the exact answer and errors. ``Float`` (SQLite
spells ``1e300`` and ``-0.0`` its own way), ``DateTime``, ``JSON``, lists of scalars, fields a
rule guards and the ``Node`` interface are never written here: their root field keeps the
projectors. PostgreSQL's JSON functions space their output (``{"a" : 1}``) and ``jsonb`` reorders
keys, so there the projectors answer too.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLEnumType
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import Text

from bastion.graphql.compiled.fetch import arguments
from bastion.graphql.compiled.plan import FieldPlan, ObjectPlan, Step
from bastion.graphql.context import RequestContext
from bastion.graphql.resolvers import checked_page
from bastion.graphql.sources import Link, Root
from bastion.store import Page

# What stops the statement: json() of text that is not JSON raises "malformed JSON".
_STOP = func.json(literal_column("'!'"))
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_TEXT = {"String", "ID"}


def writable(field: FieldPlan) -> bool:
    """Whether SQLite can write this root field's whole answer (decided once per plan)."""
    source = field.source
    if not isinstance(source, Root) or source.kind not in ("many", "single"):
        return False
    if source.kind == "single" and field.non_null:
        return False
    return field.child is not None and _object_writable(field.child, (source.type_name,))


def _object_writable(plan: ObjectPlan, above: tuple[str, ...]) -> bool:
    for field in plan.fields:
        if field.step == Step.TYPENAME:
            continue
        if field.guarded or field.abstract is not None:
            return False
        if field.step == Step.COLUMN:
            if not _leaf_writable(field):
                return False
            continue
        source = field.source
        if not isinstance(source, Link) or field.child is None:
            return False
        if not _object_writable(field.child, (*above, source.field.target)):
            return False
    return True


def _leaf_writable(field: FieldPlan) -> bool:
    shape = field.leaf
    if shape is None or shape.items is not None:
        return False
    if shape.type_name in _TEXT or shape.same is int or shape.same is bool:
        return True
    kind = field.definition.type
    inner = getattr(kind, "of_type", kind)
    return isinstance(inner, GraphQLEnumType) and all(
        value.value == name for name, value in inner.values.items()
    )


class JsonWriter:
    """Writes the statement of one request's root field (its arguments are the request's).

    The arguments of the root field and of every to-many relation below it are read and
    checked first (:meth:`arguments`: they raise as the projectors' reads would); the
    statement built from them depends on nothing else but the viewer's rules, so it is
    compiled once per such key and kept with the plan (:func:`answer`).
    """

    def __init__(self, context: RequestContext, variables: Any) -> None:
        self.context = context
        self.variables = variables
        self.reader = context.store.reader
        self.policy = context.permissions
        self._pages: list[Any] = []

    def arguments(self, field: FieldPlan) -> list[Any]:
        """The checked arguments the statement reads, in the order it reads them."""
        source = field.source
        assert isinstance(source, Root) and field.child is not None
        args = arguments(field, self.variables)
        found: list[Any] = [
            args["id"]
            if source.kind == "single"
            else checked_page(self.context, source.type_name, args)
        ]
        self._below(field.child, found)
        return found

    def _below(self, plan: ObjectPlan, found: list[Any]) -> None:
        for field in plan.fields:
            source = field.source
            if field.step != Step.LINK or not isinstance(source, Link) or field.child is None:
                continue
            if source.field.many and not source.field.holds_key:
                args = arguments(field, self.variables)
                found.append(checked_page(self.context, source.field.target, args))
            self._below(field.child, found)

    def statement(self, field: FieldPlan, checked: list[Any]) -> Select[Any]:
        """The ``SELECT`` whose one row and column is the field's answer as JSON text (no row
        for a single node that is missing or hidden), over ``checked`` (:meth:`arguments`)."""
        source = field.source
        assert isinstance(source, Root) and field.child is not None
        self._pages = list(reversed(checked))
        first = self._pages.pop()
        type_name = source.type_name
        table = self.reader.tables[type_name].alias()
        row = self._object(field.child, table)
        if source.kind == "single":
            query = select(row).select_from(table).where(table.c.id == first)
            return self._scoped(query, type_name, table)
        items = self._page(select(row.label("x")), type_name, table, first).subquery()
        # Text joined in order: the root's array is never read by SQLite again, so it needs
        # no JSON subtype (and json() would parse every item once more).
        return select(_array(items.c.x))

    # -- the parts ---------------------------------------------------------------------------

    def _object(self, plan: ObjectPlan, table: FromClause) -> ColumnElement[Any]:
        parts: list[Any] = []
        for field in plan.fields:
            parts.append(literal_column(_sql_text(field.key)))
            parts.append(self._value(plan, field, table))
        return type_coerce(func.json_object(*parts), Text)

    def _value(self, plan: ObjectPlan, field: FieldPlan, table: FromClause) -> Any:
        if field.step == Step.TYPENAME:
            return literal_column(_sql_text(plan.type.name))
        if field.step == Step.COLUMN:
            return _leaf(field, table.c[field.column])
        return self._link(field, table)

    def _link(self, field: FieldPlan, parent: FromClause) -> Any:
        source = field.source
        assert isinstance(source, Link) and field.child is not None
        relation = source.field
        target_name = relation.target
        target = self.reader.tables[target_name].alias()
        column = relation.relation.column
        if relation.holds_key:
            row = self._object(field.child, target)
            query = select(row).where(target.c.id == parent.c[column])
            value: Any = self._scoped(query, target_name, target).correlate(parent)
            value = value.scalar_subquery()
        elif relation.many:
            page = self._pages.pop()  # taken in the order arguments() read them
            row = self._object(field.child, target)
            query = select(row.label("x")).where(target.c[column] == parent.c.id)
            items = self._page(query, target_name, target, page).correlate(parent).subquery()
            # An array inside an object must be JSON to SQLite: json() once over the whole.
            return func.json(select(_array(items.c.x)).scalar_subquery())
        else:
            row = self._object(field.child, target)
            query = select(row).where(target.c[column] == parent.c.id)
            query = self._page(query, target_name, target, Page()).limit(1).correlate(parent)
            value = query.scalar_subquery()
        return func.coalesce(value, _STOP) if field.non_null else value

    def _scoped(self, query: Select[Any], type_name: str, table: FromClause) -> Select[Any]:
        """``query`` with the viewer's read rule of ``type_name`` over ``table``."""
        if self.policy is None:
            return query
        scope = self.policy.row_scope(type_name, table)
        return query if scope is None else query.where(scope)

    def _page(
        self, query: Select[Any], type_name: str, table: FromClause, page: Page
    ) -> Select[Any]:
        """``query`` filtered, ordered and windowed as :meth:`Reader.find_many` reads a page."""
        filters = self.reader.filters
        query = self._scoped(query, type_name, table).select_from(table)
        query = query.where(filters.where(type_name, page.where, table, self.policy))
        query = query.order_by(*filters.order_by(type_name, page.order_by, table, self.policy))
        if page.first is not None:
            query = query.limit(page.first)
        if page.skip:
            query = query.offset(page.skip)
        return query


# Statements are compiled with named parameters: sqlite3 takes them as a dict, in any order.
_DIALECT = sqlite.dialect(paramstyle="named")
_KEPT_PER_PLAN = 64


async def answer(
    context: RequestContext, variables: Any, field: FieldPlan, alone: bool
) -> str | None:
    """The root field's answer as JSON text (None: a single node missing or hidden).

    ``alone``: the request reads nothing else, so before its transaction is open the
    statement may run outside one (:meth:`bastion.store.Database.read_alone`).
    Raises where the projectors must answer instead: refused arguments, or a row SQLite
    stopped on (``json('!')``).
    """
    writer = JsonWriter(context, variables)
    checked = writer.arguments(field)
    policy = context.permissions
    # Equal keys write equal statements: the viewer's rules (by what their SQL depends on)
    # and the checked arguments, spelled as JSON (a miss when spelled otherwise, never a
    # wrong hit: values of different types or order spell differently).
    key = (
        policy.sql_key if policy is not None else None,
        json.dumps(checked, default=_spelled, sort_keys=True),
    )
    kept = field.sqlite_statements
    found = kept.get(key)
    if found is None:
        compiled = writer.statement(field, checked).compile(
            dialect=_DIALECT, compile_kwargs={"render_postcompile": True}
        )
        # The types' own conversions of values, as SQLAlchemy applies them when it executes.
        processors: dict[str, Any] = dict(compiled._bind_processors)
        values = {
            name: processors[name](value) if name in processors else value
            for name, value in compiled.construct_params().items()
        }
        found = (compiled.string, values)
        if len(kept) >= _KEPT_PER_PLAN:
            kept.clear()
        kept[key] = found
    db = context.store.db
    if alone and db.reads_alone and not context.transaction.is_open:
        row: Any = db.read_alone(*found)
    else:
        conn = await context.connection()
        row = (await conn.exec_driver_sql(*found)).first()
    return None if row is None else str(row[0])


def _array(items: Any) -> Any:
    """A JSON array of ``items`` (JSON texts, in their order) as text."""
    joined = func.coalesce(func.group_concat(items, literal_column("','")), "")
    return literal_column("'['").op("||")(joined).op("||")(literal_column("']'"))


def _spelled(value: Any) -> Any:
    """A value of the checked arguments that JSON has no form for, spelled with its type."""
    if isinstance(value, Page):
        return ["Page", value.where, value.order_by, value.first, value.skip]
    return [type(value).__qualname__, repr(value)]


def _leaf(field: FieldPlan, column: Any) -> Any:
    """A column's JSON value, or the stop where the projectors would answer otherwise."""
    shape = field.leaf
    assert shape is not None
    missing = _STOP if shape.non_null else None
    if shape.type_name in _TEXT:
        # Text columns hold text (their affinity makes it so) or NULL.
        return column if missing is None else func.coalesce(column, missing)
    if shape.same is int:
        in_range = (func.typeof(column) == "integer") & column.between(_INT_MIN, _INT_MAX)
        return case((in_range, column), (column.is_(None), missing), else_=_STOP)
    if shape.same is bool:
        return case(
            (column.is_(None), missing),
            (func.typeof(column) != "integer", _STOP),
            (column == 0, func.json(literal_column("'false'"))),
            (column == 1, func.json(literal_column("'true'"))),
            else_=_STOP,
        )
    kind = field.definition.type
    inner = getattr(kind, "of_type", kind)
    assert isinstance(inner, GraphQLEnumType)
    names = list(inner.values)
    return case((column.in_(names), column), (column.is_(None), missing), else_=_STOP)


def _sql_text(value: str) -> str:
    """``value`` as an SQL string literal (names of the schema: no quote is ever doubled
    in practice, but the quoting is right for any text)."""
    return "'" + value.replace("'", "''") + "'"
