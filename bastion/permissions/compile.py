"""Compile checked rules into SQLAlchemy conditions, once, and apply them per viewer.

A filter rule becomes a condition over the type's table whose viewer variables are bound
parameters; for a request it is copied with the viewer's values bound (``params``), never
re-parsed. Everything a viewer may not read stays in the database: a type's read rule is ANDed
into every SELECT of that type (lists, counts, look-ups, relation subqueries), and a row-bound
field rule is ANDed into every filter on that field and computed as a ``_can_<field>`` column
beside the row, so a hidden value is neither returned nor usable to filter or sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, case, false, true
from sqlalchemy.sql import FromClause, visitors
from sqlalchemy.sql.elements import BindParameter, Label
from sqlalchemy.sql.util import ClauseAdapter

from bastion.auth.viewer import Viewer
from bastion.errors import BastionError, Code
from bastion.permissions.rules import Access, Rule, TypePolicy
from bastion.store.filters import Condition, Where
from bastion.store.reads import Reader

_VARIABLES = {
    "$viewer.id": "viewer_id",
    "$viewer.node": "viewer_node",
    "$viewer.type": "viewer_type",
}


class Forbidden(BastionError):
    """The viewer may not do this."""

    code = Code.FORBIDDEN


def can_column(field_name: str) -> str:
    """The name of the computed column saying whether a row's field may be read."""
    return f"_can_{field_name}"


def _bind(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _bind(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bind(v) for v in value]
    if isinstance(value, str) and value in _VARIABLES:
        return bindparam(_VARIABLES[value], type_=String(), unique=False)
    return value


def _bound(condition: Condition, values: dict[str, Any]) -> Condition:
    """A copy of ``condition`` with the viewer's values in its bound parameters."""

    def visit(bind: BindParameter[Any]) -> None:
        if bind.key in values:
            bind.value = values[bind.key]
            bind.required = False

    bound: Condition = visitors.cloned_traverse(condition, {}, {"bindparam": visit})
    return bound


MAX_VIEWERS = 10_000
"""How many viewers' rules are kept made (:meth:`Permissions.for_viewer`); beyond, it starts
over."""


@dataclass(frozen=True)
class _Compiled:
    access: Access | None
    condition: Condition | None


class Permissions:
    """The compiled rules of one project."""

    def __init__(self, reader: Reader, policies: dict[str, TypePolicy]) -> None:
        """``reader`` runs the checks of writes; its filters compile the rules."""
        self.reader = reader
        self.filters = reader.filters
        self.policies = policies
        self._rules: dict[tuple[str, str], _Compiled] = {}
        self._field_rules: dict[tuple[str, str, str], _Compiled] = {}
        self._viewers: dict[int, tuple[Viewer, ViewerPermissions]] = {}
        for type_name, policy in policies.items():
            for operation in ("read", "create", "update", "delete"):
                self._rules[(type_name, operation)] = self._compile(
                    type_name, policy.rule(operation)
                )
            for field_name, rules in policy.field_rules.items():
                for operation, rule in rules.items():
                    self._field_rules[(type_name, field_name, operation)] = self._compile(
                        type_name, rule
                    )

    def _compile(self, type_name: str, rule: Rule) -> _Compiled:
        if not rule.is_filter:
            return _Compiled(rule.access, None)
        condition = self.filters.where(type_name, _bind(rule.where))
        if rule.mfa:  # the viewer's second factor, bound per request like the viewer's id
            condition = and_(condition, bindparam("viewer_mfa", type_=Integer()) == 1)
        return _Compiled(None, condition)

    def for_viewer(self, viewer: Viewer) -> ViewerPermissions:
        """The rules as they apply to one viewer (the same object for the same viewer object:
        authentication answers one viewer for a session's requests while its state holds)."""
        # Keyed by the viewer's identity, which the entry keeps alive (so its id is not
        # reused): a viewer's rules hold nothing of a request, and hashing a Viewer by its
        # values would cost about what making its rules does.
        known = self._viewers.get(id(viewer))
        if known is not None and known[0] is viewer:
            return known[1]
        made = ViewerPermissions(self, viewer)
        if len(self._viewers) >= MAX_VIEWERS:
            self._viewers.clear()
        self._viewers[id(viewer)] = (viewer, made)
        return made


def _static(access: Access, viewer: Viewer) -> bool:
    if access is Access.EVERYONE:
        return True
    if access is Access.AUTHENTICATED:
        return viewer.is_authenticated
    if access is Access.MFA:
        return viewer.mfa or viewer.is_privileged
    return viewer.is_privileged


class ViewerPermissions:
    """What one viewer may do; also the read policy the store applies to its SELECTs."""

    def __init__(self, permissions: Permissions, viewer: Viewer) -> None:
        self._permissions = permissions
        self.viewer = viewer
        self.unrestricted = viewer.is_privileged
        # A token bound to a User acts as that user: its node is the user, as for a login.
        self._values = {
            "viewer_id": viewer.user_id,
            "viewer_node": viewer.node_id or viewer.user_id,
            "viewer_type": viewer.node_type or ("User" if viewer.user_id else None),
            "viewer_mfa": 1 if viewer.mfa else 0,
        }

    @property
    def sql_key(self) -> tuple[Any, ...]:
        """What the SQL of this viewer's rules depends on: two viewers with the same key get
        the same conditions with the same values (a statement written for one fits the other)."""
        viewer = self.viewer
        return (
            viewer.is_privileged,
            viewer.is_authenticated,
            viewer.mfa,
            tuple(self._values.values()),
        )

    def _condition(self, compiled: _Compiled, source: FromClause | None) -> Condition | None:
        """None when allowed outright, false() when refused outright, else the row condition."""
        if compiled.access is not None:
            return None if _static(compiled.access, self.viewer) else false()
        assert compiled.condition is not None
        condition = _bound(compiled.condition, self._values)
        if source is not None:
            condition = ClauseAdapter(source).traverse(condition)
        return condition

    @property
    def reader(self) -> Reader:
        """The store's reader, which runs the checks over the tables the rules are about."""
        return self._permissions.reader

    # -- the read policy the store applies ---------------------------------------------

    def row_scope(self, type_name: str, source: FromClause | None = None) -> Condition | None:
        """The condition a row of ``type_name`` must meet to be seen (None: all rows)."""
        if self.unrestricted:
            return None
        return self._condition(self._permissions._rules[(type_name, "read")], source)

    def field_scope(
        self, type_name: str, field_name: str, source: FromClause | None = None
    ) -> Condition | None:
        """The condition under which a field of a row may be read (None: always)."""
        if self.unrestricted:
            return None
        compiled = self._permissions._field_rules.get((type_name, field_name, "read"))
        return None if compiled is None else self._condition(compiled, source)

    def extra_columns(self, type_name: str, source: FromClause) -> list[Label[Any]]:
        """``_can_<field>`` flags for the fields whose read rule depends on the row."""
        columns: list[Label[Any]] = []
        if self.unrestricted:
            return columns
        for (owner, field_name, operation), compiled in self._permissions._field_rules.items():
            if owner == type_name and operation == "read" and compiled.condition is not None:
                condition = self._condition(compiled, source)
                assert condition is not None
                columns.append(
                    case((condition, true()), else_=false()).label(can_column(field_name))
                )
        return columns

    # -- checks before a read ----------------------------------------------------------

    def field_readable(self, type_name: str, field_name: str, node: dict[str, Any]) -> bool:
        """Whether a loaded node's field may be shown to this viewer."""
        if self.unrestricted:
            return True
        compiled = self._permissions._field_rules.get((type_name, field_name, "read"))
        if compiled is None:
            return True
        if compiled.access is not None:
            return _static(compiled.access, self.viewer)
        return bool(node.get(can_column(field_name)))

    def check_where(self, type_name: str, where: Where | None) -> None:
        """Refuse a filter that reads a field or a type this viewer may never read."""
        if self.unrestricted or not where:
            return
        for owner, field_name in self._permissions.filters.fields_used(type_name, where):
            self._check_readable_field(owner, field_name)

    def check_order(self, type_name: str, order: Sequence[str] | None) -> None:
        """Refuse sorting by a field this viewer may not read on every row."""
        if self.unrestricted:
            return
        for item in order or ():
            field_name = item.rpartition("_")[0]
            compiled = self._permissions._field_rules.get((type_name, field_name, "read"))
            if compiled is not None and (
                compiled.access is None or not _static(compiled.access, self.viewer)
            ):
                raise Forbidden(f"Not allowed to sort by {type_name}.{field_name}")

    def _check_readable_field(self, type_name: str, field_name: str) -> None:
        field = self._permissions.filters.model.type(type_name).fields[field_name]
        target = getattr(field, "target", None)
        if target is not None:
            rule = self._permissions._rules[(target, "read")]
            if rule.access is not None and not _static(rule.access, self.viewer):
                raise Forbidden(f"Not allowed to filter through {type_name}.{field_name}")
        compiled = self._permissions._field_rules.get((type_name, field_name, "read"))
        if (
            compiled is not None
            and compiled.access is not None
            and not _static(compiled.access, self.viewer)
        ):
            raise Forbidden(f"Not allowed to filter by {type_name}.{field_name}")

    # -- checks of writes --------------------------------------------------------------

    def write_condition(self, type_name: str, operation: str) -> Condition | None:
        """The condition a node must meet for ``create``/``update``/``delete``."""
        if self.unrestricted:
            return None
        return self._condition(self._permissions._rules[(type_name, operation)], None)

    def field_write_condition(self, type_name: str, field_name: str) -> Condition | None:
        """The condition a node must meet for this viewer to set ``field_name``."""
        if self.unrestricted:
            return None
        compiled = self._permissions._field_rules.get((type_name, field_name, "write"))
        return None if compiled is None else self._condition(compiled, None)

    async def require(
        self,
        conn: Any,
        type_name: str,
        ids: Sequence[str],
        condition: Condition | None,
        message: str,
    ) -> None:
        """Raise FORBIDDEN unless every node in ``ids`` meets ``condition``."""
        if condition is None or not ids:
            return
        found = await self._permissions.reader.ids_matching(conn, type_name, ids, condition)
        if found != set(ids):
            raise Forbidden(message)


__all__ = ["Forbidden", "Permissions", "ViewerPermissions", "can_column"]
