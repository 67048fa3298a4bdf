"""Compile ``where`` filters and ``orderBy`` lists into SQLAlchemy expressions.

The filter shape is Graphcool's (Prisma 1): ``{title: "Alien"}``, ``year_gt``,
``title_contains``, ``AND``/``OR``/``NOT`` lists, a nested filter through a to-one relation and
``_some``/``_every``/``_none`` through a to-many one. The permission rules use the same shape and
this same compiler, so a rule means exactly what the equal ``where`` means.

Negated filters (``_not``, ``_not_in``, ``_not_contains``...) also match nodes where the field
is null: "every movie whose title is not Alien" includes the movies without a title. ``NOT``
lists and ``_every`` follow the same two-valued logic: a node a filter does not match (because a
value is null) is matched by its negation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import Label, UnaryExpression

from bastion.errors import BadUserInput
from bastion.model import Model, RelationField, ScalarField, ScalarKind
from bastion.model import names as n
from bastion.model.emails import EMAIL_FIELD, EMAIL_TYPE, email_key
from bastion.store.tables import Tables

Where = Mapping[str, Any]
Condition = ColumnElement[bool]


class ReadPolicy(Protocol):
    """What a viewer may see, as conditions the store ANDs into its SELECTs."""

    def row_scope(self, type_name: str, source: FromClause | None = None) -> Condition | None:
        """The condition a row must meet to be seen; None when every row may be."""

    def field_scope(
        self, type_name: str, field_name: str, source: FromClause | None = None
    ) -> Condition | None:
        """The condition under which a row's field may be read; None when always."""

    def extra_columns(self, type_name: str, source: FromClause) -> list[Label[Any]]:
        """Columns to select beside each row (``_can_<field>`` flags)."""


def _null_or(column: Any, condition: Condition) -> Condition:
    return or_(condition, column.is_(None))


def _negate(condition: Condition) -> Condition:
    # SQL's NOT of an unknown (a comparison with null) is unknown, which would drop the row from
    # both a filter and its negation; count unknown as "does not match" before negating.
    negated: Condition = not_(func.coalesce(condition, false()))
    return negated


_SCALAR_OPS: dict[str, Callable[[Any, Any], Condition]] = {
    "": lambda c, v: c.is_(None) if v is None else c == v,
    "not": lambda c, v: c.is_not(None) if v is None else c.is_distinct_from(v),
    "in": lambda c, v: c.in_(v),
    "not_in": lambda c, v: _null_or(c, c.not_in(v)),
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
    "contains": lambda c, v: c.contains(v, autoescape=True),
    "not_contains": lambda c, v: _null_or(c, not_(c.contains(v, autoescape=True))),
    "starts_with": lambda c, v: c.startswith(v, autoescape=True),
    "not_starts_with": lambda c, v: _null_or(c, not_(c.startswith(v, autoescape=True))),
    "ends_with": lambda c, v: c.endswith(v, autoescape=True),
    "not_ends_with": lambda c, v: _null_or(c, not_(c.endswith(v, autoescape=True))),
}
_NULL_ALLOWED = {"", "not"}


def scalar_filter_suffixes(field: ScalarField) -> tuple[str, ...]:
    """The filter suffixes a scalar field offers (``""`` is plain equality)."""
    if not field.comparable:
        return ()
    if field.kind in (ScalarKind.STRING, ScalarKind.ID):
        return ("", *n.STRING_FILTERS)
    if field.kind in (ScalarKind.INT, ScalarKind.FLOAT, ScalarKind.DATETIME):
        return ("", *n.ORDERED_FILTERS)
    if field.kind is ScalarKind.ENUM:
        return ("", *n.EQUALITY_FILTERS)
    return ("", *n.BOOLEAN_FILTERS)


def _stored_form(type_name: str, field: str, value: Any) -> Any:
    """A filter's value on User.email in the form the column holds (the lists' items too).

    So ``{email: "Bob@Example.com"}`` finds bob@example.com, and ``email_contains: "BOB"``
    compares lower case with lower case.
    """
    if type_name != EMAIL_TYPE or field != EMAIL_FIELD:
        return value
    if isinstance(value, str):
        return email_key(value)
    if isinstance(value, list):
        return [email_key(v) if isinstance(v, str) else v for v in value]
    return value


@dataclass(frozen=True)
class _Key:
    field: ScalarField | RelationField
    op: str


class FilterCompiler:
    """Turns filters over one model into SQL conditions; built once per project."""

    def __init__(self, model: Model, tables: Tables) -> None:
        self.model = model
        self.tables = tables
        self._keys: dict[str, dict[str, _Key]] = {}
        for obj in model.types.values():
            keys: dict[str, _Key] = {}
            for field in obj.fields.values():
                if isinstance(field, ScalarField):
                    suffixes = scalar_filter_suffixes(field)
                elif field.many:
                    suffixes = n.TO_MANY_FILTERS
                else:
                    suffixes = ("",)
                for suffix in suffixes:
                    keys[f"{field.name}_{suffix}" if suffix else field.name] = _Key(field, suffix)
            self._keys[obj.name] = keys

    def filter_keys(self, type_name: str) -> dict[str, tuple[str, str]]:
        """Each filter key of a type mapped to (field name, operator suffix)."""
        return {k: (v.field.name, v.op) for k, v in self._keys[type_name].items()}

    def fields_used(self, type_name: str, where: Where | None) -> list[tuple[str, str]]:
        """Every (type, field) a filter reads, through relations and AND/OR/NOT."""
        used: list[tuple[str, str]] = []
        for key, value in (where or {}).items():
            if key in ("AND", "OR", "NOT"):
                for item in value or ():
                    used.extend(self.fields_used(type_name, item))
                continue
            spec = self._keys[type_name][key]
            used.append((type_name, spec.field.name))
            if isinstance(spec.field, RelationField) and value is not None:
                used.extend(self.fields_used(spec.field.target, value))
        return used

    def where(
        self,
        type_name: str,
        where: Where | None,
        source: FromClause | None = None,
        policy: ReadPolicy | None = None,
    ) -> Condition:
        """The condition of ``where`` over ``source`` (the type's table or an alias of it).

        With a ``policy``, related rows the viewer may not see never match, and a comparison
        on a field the viewer may not read on a row is false for that row.
        """
        table = source if source is not None else self.tables[type_name]
        parts: list[Condition] = []
        for key, value in (where or {}).items():
            if key in ("AND", "OR", "NOT"):
                if value is None:
                    # Unlike a field, a list has no null to match: `OR: null` is no filter at
                    # all, where `OR: []` (no alternative holds) matches nothing.
                    continue
                items = [self.where(type_name, item, table, policy) for item in value]
                if key == "AND":
                    parts.append(and_(true(), *items))
                elif key == "OR":
                    parts.append(or_(false(), *items))
                else:
                    parts.append(_negate(or_(false(), *items)))
                continue
            spec = self._keys[type_name].get(key)
            if spec is None:
                raise BadUserInput(f"unknown filter '{key}' on {type_name}")
            if isinstance(spec.field, ScalarField):
                condition = self._scalar(
                    table, spec, _stored_form(type_name, spec.field.name, value)
                )
            else:
                condition = self._relation(table, spec.field, spec.op, value, policy)
            guard = policy.field_scope(type_name, spec.field.name, table) if policy else None
            parts.append(condition if guard is None else and_(condition, guard))
        return and_(true(), *parts)

    def _scalar(self, table: FromClause, spec: _Key, value: Any) -> Condition:
        assert isinstance(spec.field, ScalarField)
        if value is None and spec.op not in _NULL_ALLOWED:
            raise BadUserInput(f"filter '{spec.field.name}_{spec.op}' cannot be null")
        return _SCALAR_OPS[spec.op](table.c[spec.field.name], value)

    def _relation(
        self,
        table: FromClause,
        field: RelationField,
        op: str,
        value: Any,
        policy: ReadPolicy | None,
    ) -> Condition:
        relation = field.relation
        if field.holds_key:
            # The key is on this table: `director: {...}` looks the target up by id.
            column = table.c[relation.column]
            target = self.tables[field.target].alias()
            if value is None:
                # A link to a node the viewer may not see reads as null, so it filters as
                # null too: nothing tells a hidden link from none.
                scope = policy.row_scope(field.target, target) if policy else None
                if scope is None:
                    return column.is_(None)
                return or_(column.is_(None), column.not_in(select(target.c.id).where(scope)))
            return column.in_(
                select(target.c.id).where(self._related(field.target, value, target, policy))
            )
        # The key is on the other table: match rows of it that point at this one.
        other = self.tables[field.target].alias()
        linked = other.c[relation.column] == table.c.id
        scope = policy.row_scope(field.target, other) if policy else None
        if scope is not None:
            linked = and_(linked, scope)
        if not field.many:  # the back side of a one-to-one
            if value is None:
                return not_(exists().where(linked))
            return exists().where(linked, self.where(field.target, value, other, policy))
        if value is None:
            raise BadUserInput(f"filter '{field.name}_{op}' cannot be null")
        condition = self.where(field.target, value, other, policy)
        if op == "some":
            return exists().where(linked, condition)
        if op == "none":
            return not_(exists().where(linked, condition))
        # every: no linked row fails the condition (a null condition counts as failing)
        return not_(exists().where(linked, _negate(condition)))

    def _related(
        self, type_name: str, value: Where, source: FromClause, policy: ReadPolicy | None
    ) -> Condition:
        condition = self.where(type_name, value, source, policy)
        scope = policy.row_scope(type_name, source) if policy else None
        return condition if scope is None else and_(condition, scope)

    def where_unique(
        self, type_name: str, where: Where, source: FromClause | None = None
    ) -> Condition:
        """The condition of a ``WhereUniqueInput``: exactly one unique field must be given."""
        given = {k: v for k, v in where.items() if v is not None}
        if len(given) != 1:
            raise BadUserInput(
                f"give exactly one of {', '.join(sorted(where) or ['id'])} to pick one {type_name}"
            )
        table = source if source is not None else self.tables[type_name]
        ((key, value),) = given.items()
        condition: Condition = table.c[key] == _stored_form(type_name, key, value)
        return condition

    def order_by(
        self,
        type_name: str,
        order: Sequence[str] | None,
        source: FromClause | None = None,
        policy: ReadPolicy | None = None,
    ) -> list[UnaryExpression[Any]]:
        """ORDER BY clauses for ``[year_DESC, title_ASC]``, ending with ``id`` for stability."""
        table = source if source is not None else self.tables[type_name]
        clauses: list[UnaryExpression[Any]] = []
        for item in order or ():
            field, _, direction = item.rpartition("_")
            column: Any = table.c[field]
            guard = policy.field_scope(type_name, field, table) if policy else None
            if guard is not None:  # rows whose value is hidden sort as if it were null
                column = case((guard, column), else_=null())
            # PostgreSQL's null placement, spelled out so SQLite sorts the same way.
            clauses.append(
                column.desc().nulls_first() if direction == "DESC" else column.asc().nulls_last()
            )
        if not any(item.rpartition("_")[0] == "id" for item in order or ()):
            clauses.append(table.c.id.asc())
        return clauses
