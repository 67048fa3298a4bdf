"""Root fields the database answers as JSON text: one statement writes the whole answer.

For a list of a thousand rows, Python's part of the compiled path (rows made into dicts, dicts
projected, the answer encoded) costs far more than the database's. When every field below a
root field is one whose JSON the database writes exactly as the projectors and the response
encoder would, the root field's answer is one ``SELECT``: each row's JSON (SQLite:
``json_object``; PostgreSQL: ``row_to_json`` of a derived table whose columns are labelled by the
response keys, as its ``json_build_object`` spaces its output), a correlated subquery per
relation (an ordered, windowed derived table joined into an array for a to-many), the rows'
read rules and the list's ``where``, ``orderBy``, ``first`` and ``skip`` as the reader writes
them (:class:`bastion.store.Reader`), over an alias of each table so that a type met at several
levels stays apart. The text it returns goes into the response as it is
(:class:`bastion.graphql.response_body.RawJSON`).

What both databases write the same way as Python: text (``String``, ``ID``, an enum whose values
are their names; both escape exactly the characters Python's encoder escapes), ``Int`` within
32 bits, ``Boolean``, ``__typename``, objects and lists of them. Where a row holds what the
projectors would answer with an error or another spelling (a null in a non-null field, an
``Int`` out of range, a value of another storage class, an enum value the schema lacks, a
missing non-null relation), the statement stops on an expression that fails (see
``JsonWriter._stop``) and the field is answered again by the projectors, which give the exact
answer and errors. ``Float`` (SQLite spells ``1e300`` and ``-0.0`` its own way), ``DateTime``,
``JSON``, lists of scalars, fields a rule guards and the ``Node`` interface are never written
here: their root field keeps the projectors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from graphql import GraphQLEnumType
from sqlalchemy import (
    JSON,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.types import Text

from bastion.graphql.compiled.fetch import arguments
from bastion.graphql.compiled.plan import FieldPlan, ObjectPlan, Step
from bastion.graphql.context import RequestContext
from bastion.graphql.resolvers import checked_page
from bastion.graphql.sources import Link, Root
from bastion.store import Page
from bastion.store.database import ALONE_DIALECT

# What stops the statement: json() of text that is not JSON raises "malformed JSON".
_STOP = func.json(literal_column("'!'"))
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_TEXT = {"String", "ID"}
# PostgreSQL's longest name: a longer response key cannot label a column.
_PG_NAME_BYTES = 63

Shape = Callable[[Select[Any]], Select[Any]]
"""What makes a select of values the rows of one level: its FROM, rules, filter, window."""


def writable(field: FieldPlan, sqlite: bool) -> bool:
    """Whether the database (SQLite, or else PostgreSQL) can write this root field's whole
    answer (decided once per plan)."""
    source = field.source
    if not isinstance(source, Root) or source.kind not in ("many", "single"):
        return False
    if source.kind == "single" and field.non_null:
        return False
    return field.child is not None and _object_writable(field.child, sqlite)


def _object_writable(plan: ObjectPlan, sqlite: bool) -> bool:
    for field in plan.fields:
        if not sqlite and len(field.key.encode()) > _PG_NAME_BYTES:
            return False
        if field.step == Step.TYPENAME:
            continue
        if field.guarded or field.abstract is not None:
            return False
        if field.step == Step.COLUMN:
            if not _leaf_writable(field):
                return False
            continue
        if not isinstance(field.source, Link) or field.child is None:
            return False
        if not _object_writable(field.child, sqlite):
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
        self.sqlite = context.store.db.is_sqlite
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
        if source.kind == "single":
            return self._rows(
                field.child,
                table,
                lambda q: self._scoped(
                    # The id is bound when the statement runs: one statement for every id.
                    q.select_from(table).where(
                        table.c.id == bindparam(_NODE_ID, None, type_=String)
                    ),
                    type_name,
                    table,
                ),
            )
        rows = self._rows(field.child, table, lambda q: self._page(q, type_name, table, first))
        # Text joined in order: the root's array is never read by the database again, so it
        # need not be JSON to it (SQLite's json() would parse every item once more).
        return select(self._array(rows.subquery().c.x))

    # -- the parts ---------------------------------------------------------------------------

    def _rows(self, plan: ObjectPlan, table: FromClause, shape: Shape) -> Select[Any]:
        """The rows ``shape`` keeps (its filter, order and window over ``table``), each as its
        JSON in one column ``x``, in its order."""
        if self.sqlite:
            return shape(select(self._object(plan, table).label("x")))
        # PostgreSQL: row_to_json of a derived table of the values labelled by their keys
        # writes compact JSON (json_build_object spaces it); a subquery with ORDER BY is never
        # pulled up into the query above it, so its rows come out in their order.
        values = [self._value(plan, field, table).label(field.key) for field in plan.fields]
        inner = shape(select(*values)).subquery()
        return select(func.row_to_json(inner.table_valued()).label("x"))

    def _object(self, plan: ObjectPlan, table: FromClause) -> ColumnElement[Any]:
        parts: list[Any] = []
        for field in plan.fields:
            parts.append(literal_column(_sql_text(field.key)))
            parts.append(self._value(plan, field, table))
        return type_coerce(func.json_object(*parts), Text)

    def _value(self, plan: ObjectPlan, field: FieldPlan, table: FromClause) -> Any:
        if field.step == Step.TYPENAME:
            return cast(literal_column(_sql_text(plan.type.name)), Text)
        if field.step == Step.COLUMN:
            return self._leaf(field, table)
        return self._link(field, table)

    def _link(self, field: FieldPlan, parent: FromClause) -> Any:
        source = field.source
        assert isinstance(source, Link) and field.child is not None
        relation = source.field
        target_name = relation.target
        target = self.reader.tables[target_name].alias()
        column = relation.relation.column
        if relation.holds_key:
            value: Any = self._rows(
                field.child,
                target,
                lambda q: self._scoped(
                    q.where(target.c.id == parent.c[column]), target_name, target
                ).correlate(parent),
            ).scalar_subquery()
        elif relation.many:
            page = self._pages.pop()  # taken in the order arguments() read them
            rows = self._rows(
                field.child,
                target,
                lambda q: self._page(
                    q.where(target.c[column] == parent.c.id), target_name, target, page
                ).correlate(parent),
            )
            array = select(self._array(rows.subquery().c.x)).scalar_subquery()
            # An array inside an object must be JSON to the database: parsed once, whole.
            return func.json(array) if self.sqlite else cast(array, JSON)
        else:
            value = self._rows(
                field.child,
                target,
                lambda q: (
                    self._page(
                        q.where(target.c[column] == parent.c.id), target_name, target, Page()
                    )
                    .limit(1)
                    .correlate(parent)
                ),
            ).scalar_subquery()
        return func.coalesce(value, self._stop(parent, JSON)) if field.non_null else value

    def _leaf(self, field: FieldPlan, table: FromClause) -> Any:
        """A column's JSON value, or the stop where the projectors would answer otherwise."""
        shape = field.leaf
        assert shape is not None
        column = table.c[field.column]
        kind = column.type
        missing = self._stop(table, kind) if shape.non_null else None
        if shape.type_name in _TEXT:
            # Text columns hold text (SQLite: their affinity makes it so) or NULL.
            return column if missing is None else func.coalesce(column, missing)
        if shape.same is int:
            if not self.sqlite:  # an INTEGER column: 32 bits
                return column if missing is None else func.coalesce(column, missing)
            in_range = (func.typeof(column) == "integer") & column.between(_INT_MIN, _INT_MAX)
            return case((in_range, column), (column.is_(None), missing), else_=_STOP)
        if shape.same is bool:
            if not self.sqlite:  # a BOOLEAN column
                return column if missing is None else func.coalesce(column, missing)
            return case(
                (column.is_(None), missing),
                (func.typeof(column) != "integer", _STOP),
                (column == 0, func.json(literal_column("'false'"))),
                (column == 1, func.json(literal_column("'true'"))),
                else_=_STOP,
            )
        definition = field.definition.type
        inner = getattr(definition, "of_type", definition)
        assert isinstance(inner, GraphQLEnumType)
        names = list(inner.values)
        other = self._stop(table, kind)
        return case((column.in_(names), column), (column.is_(None), missing), else_=other)

    def _stop(self, table: FromClause, kind: Any) -> Any:
        """An expression of type ``kind`` that fails when it is evaluated (CASE and COALESCE
        evaluate only the branch they take): the statement stops there.

        SQLite: json('!'), "malformed JSON". PostgreSQL folds constant expressions while
        planning, so its stop reads the row: its id and a '!' cast to an integer."""
        if self.sqlite:
            return _STOP
        failing = cast(table.c.id.concat("!"), Integer)
        return func.to_json(failing) if isinstance(kind, JSON) else cast(failing, kind)

    def _array(self, items: Any) -> Any:
        """A JSON array of ``items`` (JSON texts, in their order) as text."""
        if self.sqlite:
            joined = func.group_concat(items, literal_column("','"))
        else:
            joined = func.string_agg(cast(items, Text), literal_column("','"))
        text = func.coalesce(joined, literal_column("''"))
        return literal_column("'['").op("||")(text).op("||")(literal_column("']'"))

    def _scoped(self, query: Select[Any], type_name: str, table: FromClause) -> Select[Any]:
        """``query`` with the viewer's read rule of ``type_name`` over ``table``."""
        return self.reader.scoped(query, type_name, self.policy, table)

    def _page(
        self, query: Select[Any], type_name: str, table: FromClause, page: Page
    ) -> Select[Any]:
        """``query`` over ``table``, scoped, filtered, ordered and windowed as
        :meth:`Reader.find_many` reads a page."""
        query = self._scoped(query, type_name, table).select_from(table)
        return self.reader.paged(query, type_name, page, self.policy, table)


# SQLite's statements are compiled with named parameters: sqlite3 takes them as a dict.
_KEPT_PER_PLAN = 64
_NODE_ID = "bastion_node_id"


class Statement:
    """A statement compiled once: its text and its parameters, in the order its driver takes
    them where they are positional."""

    def __init__(self, text: str, values: dict[str, Any], order: tuple[str, ...] | None) -> None:
        self.text = text
        self.values = values
        self.order = order

    def parameters(self, bound: dict[str, Any]) -> Any:
        """The parameters with ``bound`` (values known when the statement runs) set."""
        values = {**self.values, **bound} if bound else self.values
        return values if self.order is None else tuple(values[name] for name in self.order)


async def answer(
    context: RequestContext, variables: Any, field: FieldPlan, alone: bool
) -> str | None:
    """The root field's answer as JSON text (None: a single node missing or hidden).

    ``alone``: the request reads nothing else. On SQLite its statement then runs outside a
    transaction (:meth:`bastion.store.Database.read_alone`); on PostgreSQL it must be, as a
    failed statement ends the transaction it ran in, which is then rolled back before the
    projectors read again.
    Raises where the projectors must answer instead: refused arguments, or a row the
    database stopped on.
    """
    writer = JsonWriter(context, variables)
    checked = writer.arguments(field)
    policy = context.permissions
    # Equal keys write equal statements: the viewer's rules (by what their SQL depends on)
    # and the checked arguments, spelled as JSON (a miss when spelled otherwise, never a
    # wrong hit: values of different types or order spell differently).
    source = field.source
    assert isinstance(source, Root)
    # A single node's id is a parameter of its statement, not a part of the key.
    bound = {_NODE_ID: checked[0]} if source.kind == "single" else {}
    key = (
        policy.sql_key if policy is not None else None,
        json.dumps(checked[1:] if bound else checked, default=_spelled, sort_keys=True),
    )
    kept = field.json_statements
    found = kept.get(key)
    db = context.store.db
    if found is None:
        found = _compiled(
            writer.statement(field, checked), ALONE_DIALECT if db.is_sqlite else None, db
        )
        if len(kept) >= _KEPT_PER_PLAN:
            kept.clear()
        kept[key] = found
    sql, parameters = found.text, found.parameters(bound)
    if db.is_sqlite:
        if alone and db.reads_alone and not context.transaction.is_open:
            row: Any = db.read_alone(sql, parameters)
        else:
            conn = await context.connection()
            row = (await conn.exec_driver_sql(sql, parameters)).first()
    else:
        # Only ever asked alone (CompiledRun._written): the transaction it may end is its own.
        assert alone and not context.transaction.is_open
        conn = await context.connection()
        try:
            row = (await conn.exec_driver_sql(sql, parameters)).first()
        except Exception:
            await context.transaction.finish(commit=False)
            raise
    return None if row is None else str(row[0])


def _compiled(statement: Select[Any], dialect: Any, db: Any) -> Statement:
    compiled = statement.compile(
        dialect=dialect or db.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    # The types' own conversions of values, as SQLAlchemy applies them when it executes.
    processors: dict[str, Any] = dict(compiled._bind_processors)
    values = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.construct_params().items()
    }
    order = tuple(compiled.positiontup or ()) if compiled.positional else None
    return Statement(compiled.string, values, order)


def _spelled(value: Any) -> Any:
    """A value of the checked arguments that JSON has no form for, spelled with its type."""
    if isinstance(value, Page):
        return ["Page", value.where, value.order_by, value.first, value.skip]
    return [type(value).__qualname__, repr(value)]


def _sql_text(value: str) -> str:
    """``value`` as an SQL string literal (names of the schema: no quote is ever doubled
    in practice, but the quoting is right for any text)."""
    return "'" + value.replace("'", "''") + "'"
