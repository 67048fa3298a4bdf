"""The second pass over a schema: each declared type's fields, read into the model's fields.

A field is a scalar (one of the built-in scalars or a declared enum, optionally a list) or a
relation (another declared type). Its directives are checked here: ``@unique`` and
``@default`` on scalars only, with the default's value checked against the field's type, and
``@relation`` on relations only; a relation's side is noted for pairing
(:mod:`bastion.model.relations`) and becomes a field once it is paired.
"""

from __future__ import annotations

from typing import Any

from graphql import Source
from graphql.language import (
    DirectiveNode,
    FieldDefinitionNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    TypeNode,
)
from graphql.utilities import value_from_ast_untyped

from bastion.model import names
from bastion.model.declarations import Declarations
from bastion.model.problems import Problems, a, where
from bastion.model.relations import RawRelation, relation_side
from bastion.model.types import Field, ObjectType, ScalarField, ScalarKind
from bastion.model.values import parse_datetime

_SCALARS = {
    "ID": ScalarKind.ID,
    "String": ScalarKind.STRING,
    "Int": ScalarKind.INT,
    "Float": ScalarKind.FLOAT,
    "Boolean": ScalarKind.BOOLEAN,
    "DateTime": ScalarKind.DATETIME,
    "JSON": ScalarKind.JSON,
}
_FIELD_DIRECTIVES = {"unique", "default", "relation"}


class FieldReader:
    """Reads the fields of declared types; the relation sides it meets wait in ``sides``."""

    def __init__(self, declared: Declarations, problems: Problems) -> None:
        self.declared = declared
        self.problems = problems
        # Every relation side read so far, paired once all types are read.
        self.sides: list[RawRelation] = []

    def read_type(
        self, type_name: str, nodes: list[tuple[Source, FieldDefinitionNode]]
    ) -> ObjectType:
        """The type ``type_name`` with its scalar fields (``id`` added when not declared)."""
        obj = ObjectType(name=type_name, builtin=type_name in self.declared.builtin)
        seen: dict[str, str] = {}
        for source, node in nodes:
            name = node.name.value
            at = where(source, node.name)
            if name in seen:
                self.problems.add(
                    at, f"duplicate field '{type_name}.{name}' (first defined at {seen[name]})"
                )
                continue
            seen[name] = at
            if not names.FIELD_NAME.match(name):
                self.problems.add(
                    at,
                    f"invalid field name '{type_name}.{name}': start with a lowercase letter, "
                    "then letters, digits or _",
                )
                continue
            built = self._field(type_name, source, node)
            if built is not None:
                obj.fields[name] = built
        if "id" not in obj.fields and "id" not in seen:
            obj.fields = {"id": ScalarField("id", ScalarKind.ID, required=True), **obj.fields}
        return obj

    def _directives(
        self, source: Source, nodes: tuple[DirectiveNode, ...] | None
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for directive in nodes or ():
            name = directive.name.value
            at = where(source, directive)
            if name not in _FIELD_DIRECTIVES:
                self.problems.add(
                    at, f"unknown directive @{name} (known: @unique, @default, @relation)"
                )
                continue
            if name in found:
                self.problems.add(at, f"directive @{name} is given twice")
                continue
            args: dict[str, Any] = {}
            for arg in directive.arguments or ():
                args[arg.name.value] = arg.value
            found[name] = args
        return found

    def _field(self, type_name: str, source: Source, node: FieldDefinitionNode) -> Field | None:
        name = node.name.value
        at = where(source, node.name)
        label = f"{type_name}.{name}"
        if node.arguments:
            self.problems.add(at, f"field {label} cannot take arguments in the data model")
        target, required, is_list, _ = _unwrap(node.type)
        if not target:
            self.problems.add(at, f"field {label}: nested lists are not supported")
            return None
        directives = self._directives(source, node.directives)
        if target in _SCALARS or target in self.declared.enums:
            return self._scalar_field(label, at, name, target, required, is_list, directives)
        if target in self.declared.type_nodes:
            for bad in ("unique", "default"):
                if bad in directives:
                    self.problems.add(at, f"@{bad} is not allowed on relation field {label}")
            args = directives.get("relation", {})
            self.sides.append(
                relation_side(type_name, name, target, is_list, required, args, at, self.problems)
            )
            return None
        self.problems.add(at, f"unknown type '{target}' for field {label}")
        return None

    def _scalar_field(
        self,
        label: str,
        at: str,
        name: str,
        target: str,
        required: bool,
        is_list: bool,
        directives: dict[str, dict[str, Any]],
    ) -> ScalarField | None:
        kind = _SCALARS.get(target, ScalarKind.ENUM)
        enum = target if kind is ScalarKind.ENUM else None
        if name == "id" and (kind is not ScalarKind.ID or not required or is_list):
            self.problems.add(at, f"field {label} must be declared as `id: ID!`")
            return None
        if kind is ScalarKind.ID and name != "id":
            self.problems.add(at, f"field {label}: ID is only for `id`; use a relation or a String")
            return None
        if "relation" in directives:
            self.problems.add(at, f"@relation is only allowed on relation fields ({label})")
        unique = "unique" in directives
        if unique and (is_list or kind in (ScalarKind.JSON, ScalarKind.BOOLEAN)):
            self.problems.add(at, f"@unique is not allowed on {label} ({target} values)")
        has_default = "default" in directives
        default: Any = None
        if has_default:
            value_node = directives["default"].get("value")
            if value_node is None:
                self.problems.add(at, f"@default on {label} needs a `value` argument")
                has_default = False
            else:
                default, error = _coerce_default(
                    value_from_ast_untyped(value_node),
                    kind,
                    is_list,
                    self.declared.enums.get(enum or "", []),
                )
                if error:
                    self.problems.add(at, f"@default on {label}: {error}")
                    has_default = False
        field = ScalarField(
            name=name,
            kind=kind,
            required=required,
            is_list=is_list,
            unique=unique,
            default=default,
            has_default=has_default,
            enum=enum,
        )
        if field.managed and has_default:
            self.problems.add(at, f"{label} is set by the server and takes no @default")
        return field


def _unwrap(type_node: TypeNode) -> tuple[str, bool, bool, bool]:
    """(named type, required, is list, list items required); nested lists are refused later."""
    required = isinstance(type_node, NonNullTypeNode)
    inner = type_node.type if isinstance(type_node, NonNullTypeNode) else type_node
    if isinstance(inner, ListTypeNode):
        item = inner.type
        item_required = isinstance(item, NonNullTypeNode)
        item = item.type if isinstance(item, NonNullTypeNode) else item
        if not isinstance(item, NamedTypeNode):
            return ("", required, True, item_required)
        return (item.name.value, required, True, item_required)
    assert isinstance(inner, NamedTypeNode)
    return (inner.name.value, required, False, False)


def _coerce_default(
    raw: Any, kind: ScalarKind, is_list: bool, enum_values: list[str]
) -> tuple[Any, str | None]:
    """Check a ``@default(value:)`` against the field type; returns (value, error)."""
    if is_list:
        if not isinstance(raw, list):
            return None, "expected a list"
        items = [_coerce_default(item, kind, False, enum_values) for item in raw]
        for _, error in items:
            if error:
                return None, error
        return [value for value, _ in items], None
    if raw is None:
        return None, "expected a value, got null"
    if kind is ScalarKind.STRING and isinstance(raw, str):
        return raw, None
    if kind is ScalarKind.INT and isinstance(raw, int) and not isinstance(raw, bool):
        if -(2**31) <= raw < 2**31:
            return raw, None
        return None, "Int values are 32-bit"
    if kind is ScalarKind.FLOAT and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw), None
    if kind is ScalarKind.BOOLEAN and isinstance(raw, bool):
        return raw, None
    if kind is ScalarKind.JSON:
        return raw, None
    if kind is ScalarKind.ENUM:
        if raw in enum_values:
            return raw, None
        return None, f"expected one of {', '.join(enum_values)}"
    if kind is ScalarKind.DATETIME and isinstance(raw, str):
        try:
            return parse_datetime(raw), None
        except ValueError as error:
            return None, str(error)
    return None, f"expected {a(kind.value)} value, got {raw!r}"
