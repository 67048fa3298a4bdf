"""Parse ``schema.graphql`` (SDL) into a :class:`~bastion.model.types.Model`.

Every problem is reported as ``file:line:column: reason``, one line each, and all problems of a
file are collected before giving up, so a user fixes them in one round.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSyntaxError, Source, parse
from graphql.language import (
    DefinitionNode,
    DirectiveNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    Lexer,
    ListTypeNode,
    NamedTypeNode,
    Node,
    NonNullTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    TokenKind,
    TypeNode,
)
from graphql.language.location import SourceLocation as GqlLocation
from graphql.language.location import get_location
from graphql.utilities import value_from_ast_untyped

from bastion.errors import ProjectError
from bastion.model import names
from bastion.model.types import (
    Field,
    Model,
    ObjectType,
    OnDelete,
    Relation,
    RelationField,
    ScalarField,
    ScalarKind,
)
from bastion.model.values import parse_datetime

BUILTIN_USER_SDL = """
type User {
  id: ID!
  email: String @unique
  username: String @unique
  firstName: String
  lastName: String
  isActive: Boolean! @default(value: true)
  createdAt: DateTime!
  updatedAt: DateTime!
}
"""
BUILTIN_FILE = "<built-in User>"

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


@dataclass
class _RawRelation:
    owner: str
    name: str
    target: str
    many: bool
    required: bool
    relation_name: str | None
    on_delete: OnDelete | None
    where: str


class _Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.lines.append(f"{where}: {reason}")


def _where(source: Source, node: Node | None) -> str:
    if node is None or node.loc is None:
        return source.name
    loc: GqlLocation = get_location(source, node.loc.start)
    return f"{source.name}:{loc.line}:{loc.column}"


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


def parse_model(text: str, file_name: str = "schema.graphql") -> Model:
    """Parse SDL text into a model, or raise :class:`ProjectError` listing every problem."""
    problems = _Problems()
    sources = [Source(BUILTIN_USER_SDL, BUILTIN_FILE), Source(text, file_name)]
    definitions: list[tuple[Source, DefinitionNode]] = []
    for source in sources:
        if _is_blank(source):
            # graphql-core refuses an empty document; a project may have no types of its own.
            continue
        try:
            document = parse(source, no_location=False)
        except GraphQLSyntaxError as error:
            loc = error.locations[0] if error.locations else None
            where = f"{source.name}:{loc.line}:{loc.column}" if loc else source.name
            problems.add(where, f"syntax error: {error.message.removeprefix('Syntax Error: ')}")
            raise ProjectError(problems.lines) from None
        definitions.extend((source, d) for d in document.definitions)
    return _Builder(problems).build(definitions)


def _is_blank(source: Source) -> bool:
    """True when the source holds no tokens at all, only whitespace and comments."""
    try:
        return Lexer(source).advance().kind is TokenKind.EOF
    except GraphQLSyntaxError:
        return False


class _Builder:
    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.enums: dict[str, list[str]] = {}
        self.type_nodes: dict[str, list[tuple[Source, FieldDefinitionNode]]] = {}
        self.type_where: dict[str, str] = {}
        self.builtin: set[str] = set()
        self.raw_relations: list[_RawRelation] = []

    def build(self, definitions: list[tuple[Source, DefinitionNode]]) -> Model:
        extensions: list[tuple[Source, ObjectTypeExtensionNode]] = []
        for source, node in definitions:
            if isinstance(node, ObjectTypeDefinitionNode):
                self._declare_type(source, node)
            elif isinstance(node, EnumTypeDefinitionNode):
                self._declare_enum(source, node)
            elif isinstance(node, ObjectTypeExtensionNode):
                extensions.append((source, node))
            else:
                kind = type(node).__name__.removesuffix("Node")
                self.problems.add(
                    _where(source, node),
                    f"{kind} is not supported in the data model "
                    "(use object types, `extend type` and enums)",
                )
        for source, ext in extensions:
            name = ext.name.value
            if name not in self.type_nodes:
                self.problems.add(_where(source, ext.name), f"cannot extend unknown type '{name}'")
                continue
            if ext.directives:
                self.problems.add(_where(source, ext), "directives on types are not supported")
            self.type_nodes[name].extend((source, f) for f in ext.fields or ())

        types: dict[str, ObjectType] = {}
        for name, fields in self.type_nodes.items():
            types[name] = self._build_type(name, fields)
        relations = self._pair_relations(types)
        for obj in types.values():  # relations were attached last: restore declaration order
            order = [f.name.value for _, f in self.type_nodes[obj.name]]
            obj.fields = dict(
                sorted(
                    obj.fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1
                )
            )
        for name, fields in self.type_nodes.items():
            # Counted on the declaration: a field refused for another reason is already reported.
            if all(node.name.value == "id" for _, node in fields):
                self.problems.add(self.type_where[name], f"type '{name}' has no fields besides id")
        self._check_generated_names(types)
        if self.problems.lines:
            raise ProjectError(self.problems.lines)
        return Model(types=types, enums=self.enums, relations=relations)

    # -- declarations ------------------------------------------------------------------

    def _check_type_name(self, source: Source, node: Node, name: str, what: str) -> bool:
        where = _where(source, node)
        # Checked before duplicates: the built-in User is declared first, so a project's own
        # `type User` would otherwise read as a duplicate of a definition the user never wrote.
        if name == "User" and source.name != BUILTIN_FILE:
            self.problems.add(
                where, "type 'User' is built in; add fields to it with `extend type User`"
            )
            return False
        if name in self.type_nodes or name in self.enums:
            first = self.type_where.get(name, "")
            self.problems.add(where, f"duplicate type '{name}' (first defined at {first})")
            return False
        if name in names.RESERVED_TYPE_NAMES:
            self.problems.add(where, f"'{name}' is a reserved name and cannot name {_a(what)}")
            return False
        if not names.TYPE_NAME.match(name):
            self.problems.add(
                where,
                f"invalid {what} name '{name}': use PascalCase letters and digits, like Movie",
            )
            return False
        self.type_where[name] = where
        return True

    def _declare_type(self, source: Source, node: ObjectTypeDefinitionNode) -> None:
        name = node.name.value
        if not self._check_type_name(source, node.name, name, "type"):
            return
        if node.interfaces:
            self.problems.add(_where(source, node), "interfaces are not supported")
        if node.directives:
            self.problems.add(_where(source, node), "directives on types are not supported")
        if source.name == BUILTIN_FILE:
            self.builtin.add(name)
        self.type_nodes[name] = [(source, f) for f in node.fields or ()]

    def _declare_enum(self, source: Source, node: EnumTypeDefinitionNode) -> None:
        name = node.name.value
        if not self._check_type_name(source, node.name, name, "enum"):
            return
        values: list[str] = []
        for value in node.values or ():
            v = value.name.value
            where = _where(source, value)
            if v in values:
                self.problems.add(where, f"duplicate value '{v}' in enum {name}")
            elif not names.ENUM_VALUE.match(v) or v in names.ENUM_VALUE_FORBIDDEN:
                self.problems.add(where, f"invalid enum value '{v}' in enum {name}")
            else:
                values.append(v)
        if not values:
            self.problems.add(_where(source, node), f"enum {name} has no values")
        self.enums[name] = values

    # -- fields ------------------------------------------------------------------------

    def _build_type(
        self, type_name: str, nodes: list[tuple[Source, FieldDefinitionNode]]
    ) -> ObjectType:
        obj = ObjectType(name=type_name, builtin=type_name in self.builtin)
        seen: dict[str, str] = {}
        for source, node in nodes:
            name = node.name.value
            where = _where(source, node.name)
            if name in seen:
                self.problems.add(
                    where, f"duplicate field '{type_name}.{name}' (first defined at {seen[name]})"
                )
                continue
            seen[name] = where
            if not names.FIELD_NAME.match(name):
                self.problems.add(
                    where,
                    f"invalid field name '{type_name}.{name}': start with a lowercase letter, "
                    "then letters, digits or _",
                )
                continue
            built = self._build_field(type_name, source, node)
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
            where = _where(source, directive)
            if name not in _FIELD_DIRECTIVES:
                self.problems.add(
                    where, f"unknown directive @{name} (known: @unique, @default, @relation)"
                )
                continue
            if name in found:
                self.problems.add(where, f"directive @{name} is given twice")
                continue
            args: dict[str, Any] = {}
            for arg in directive.arguments or ():
                args[arg.name.value] = arg.value
            found[name] = args
        return found

    def _build_field(
        self, type_name: str, source: Source, node: FieldDefinitionNode
    ) -> Field | None:
        name = node.name.value
        where = _where(source, node.name)
        label = f"{type_name}.{name}"
        if node.arguments:
            self.problems.add(where, f"field {label} cannot take arguments in the data model")
        target, required, is_list, _ = _unwrap(node.type)
        if not target:
            self.problems.add(where, f"field {label}: nested lists are not supported")
            return None
        directives = self._directives(source, node.directives)
        if target in _SCALARS or target in self.enums:
            return self._scalar_field(
                label, where, source, name, target, required, is_list, directives
            )
        if target in self.type_nodes:
            for bad in ("unique", "default"):
                if bad in directives:
                    self.problems.add(where, f"@{bad} is not allowed on relation field {label}")
            self._raw_relation(type_name, name, target, is_list, required, directives, where)
            return None
        self.problems.add(where, f"unknown type '{target}' for field {label}")
        return None

    def _scalar_field(
        self,
        label: str,
        where: str,
        source: Source,
        name: str,
        target: str,
        required: bool,
        is_list: bool,
        directives: dict[str, dict[str, Any]],
    ) -> ScalarField | None:
        kind = _SCALARS.get(target, ScalarKind.ENUM)
        enum = target if kind is ScalarKind.ENUM else None
        if name == "id" and (kind is not ScalarKind.ID or not required or is_list):
            self.problems.add(where, f"field {label} must be declared as `id: ID!`")
            return None
        if kind is ScalarKind.ID and name != "id":
            self.problems.add(
                where, f"field {label}: ID is only for `id`; use a relation or a String"
            )
            return None
        if "relation" in directives:
            self.problems.add(where, f"@relation is only allowed on relation fields ({label})")
        unique = "unique" in directives
        if unique and (is_list or kind in (ScalarKind.JSON, ScalarKind.BOOLEAN)):
            self.problems.add(where, f"@unique is not allowed on {label} ({target} values)")
        has_default = "default" in directives
        default: Any = None
        if has_default:
            value_node = directives["default"].get("value")
            if value_node is None:
                self.problems.add(where, f"@default on {label} needs a `value` argument")
                has_default = False
            else:
                default, error = _coerce_default(
                    value_from_ast_untyped(value_node),
                    kind,
                    is_list,
                    self.enums.get(enum or "", []),
                )
                if error:
                    self.problems.add(where, f"@default on {label}: {error}")
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
            self.problems.add(where, f"{label} is set by the server and takes no @default")
        return field

    def _raw_relation(
        self,
        owner: str,
        name: str,
        target: str,
        many: bool,
        required: bool,
        directives: dict[str, dict[str, Any]],
        where: str,
    ) -> None:
        args = directives.get("relation", {})
        relation_name: str | None = None
        on_delete: OnDelete | None = None
        for arg, value in args.items():
            raw = value_from_ast_untyped(value)
            if arg == "name" and isinstance(raw, str) and raw:
                relation_name = raw
            elif arg == "onDelete" and raw in OnDelete.__members__:
                on_delete = OnDelete(raw)
            elif arg == "onDelete":
                self.problems.add(
                    where,
                    f"@relation(onDelete:) on {owner}.{name} must be SET_NULL, CASCADE or RESTRICT",
                )
            elif arg == "name":
                self.problems.add(where, f"@relation(name:) on {owner}.{name} must be a string")
            else:
                self.problems.add(where, f"unknown @relation argument '{arg}' on {owner}.{name}")
        self.raw_relations.append(
            _RawRelation(owner, name, target, many, required, relation_name, on_delete, where)
        )

    # -- relations ---------------------------------------------------------------------

    def _pair_relations(self, types: dict[str, ObjectType]) -> list[Relation]:
        groups: dict[tuple[frozenset[str], str | None], list[_RawRelation]] = defaultdict(list)
        for raw in self.raw_relations:
            groups[(frozenset((raw.owner, raw.target)), raw.relation_name)].append(raw)
        first_use: dict[str, _RawRelation] = {}
        for (_, relation_name), members in groups.items():
            if relation_name is None:
                continue
            first = first_use.setdefault(relation_name, members[0])
            if first is not members[0]:
                self.problems.add(
                    members[0].where,
                    f"relation '{relation_name}' is already used between {first.owner} and "
                    f"{first.target}; give {members[0].owner}.{members[0].name} its own name",
                )
        relations: list[Relation] = []
        for (_, relation_name), members in groups.items():
            pairs = self._split_group(members, relation_name)
            for first, second in pairs:
                relation = self._relation(first, second)
                if relation is None:
                    continue
                relations.append(relation)
                self._attach(types, relation, first, second)
        return relations

    def _split_group(
        self, members: list[_RawRelation], relation_name: str | None
    ) -> list[tuple[_RawRelation, _RawRelation | None]]:
        a = members[0]
        forward = [m for m in members if m.owner == a.owner and m.target == a.target]
        backward = [m for m in members if m not in forward]
        if a.owner == a.target:
            forward, backward = members[:1], members[1:]
        if len(forward) > 1 or len(backward) > 1:
            fields = ", ".join(f"{m.owner}.{m.name}" for m in members)
            if relation_name:
                reason = f"relation '{relation_name}' names more than two fields ({fields})"
            else:
                reason = (
                    f"ambiguous relations between {a.owner} and {a.target} ({fields}): "
                    'name each pair with @relation(name: "...")'
                )
            self.problems.add(members[-1].where, reason)
            return []
        return [(forward[0], backward[0] if backward else None)]

    def _relation(self, p: _RawRelation, q: _RawRelation | None) -> Relation | None:
        if q is not None and p.many and q.many:
            self.problems.add(
                q.where,
                f"many-to-many relations are not supported yet ({p.owner}.{p.name} and "
                f"{q.owner}.{q.name}); add a type for the link with a to-one field to each side",
            )
            return None
        # Decide which side holds the foreign key.
        if q is None:
            holder, other = (p, None) if not p.many else (None, p)
        elif p.many:
            holder, other = q, p
        elif q.many:
            holder, other = p, q
        else:
            # One-to-one: the required side holds the key, else the side given onDelete (the
            # rule is about that side's nodes), else the first by name.
            ordered = sorted(
                (p, q), key=lambda r: (not r.required, r.on_delete is None, r.owner, r.name)
            )
            holder, other = ordered[0], ordered[1]
        for side in (p, q):
            if side is not None and side is not holder and side.on_delete is not None:
                target = f"{holder.owner}.{holder.name}" if holder else "the to-one side"
                self.problems.add(
                    side.where, f"onDelete belongs on the field that holds the link ({target})"
                )
        if holder is None:
            assert other is not None
            return Relation(
                name=f"{other.owner}.{other.name}",
                holder=other.target,
                holder_field=None,
                target=other.owner,
                target_field=other.name,
                target_many=True,
                column=f"_{other.owner}_{other.name}",
                required=False,
                on_delete=OnDelete.SET_NULL,
            )
        on_delete = holder.on_delete or (
            OnDelete.RESTRICT if holder.required else OnDelete.SET_NULL
        )
        if on_delete is OnDelete.SET_NULL and holder.required:
            self.problems.add(
                holder.where,
                f"{holder.owner}.{holder.name} is required, so onDelete cannot be SET_NULL "
                "(use CASCADE or RESTRICT)",
            )
        return Relation(
            name=p.relation_name or f"{holder.owner}.{holder.name}",
            holder=holder.owner,
            holder_field=holder.name,
            target=holder.target,
            target_field=other.name if other else None,
            target_many=other.many if other else True,
            column=f"{holder.name}Id",
            required=holder.required,
            on_delete=on_delete,
        )

    def _attach(
        self,
        types: dict[str, ObjectType],
        relation: Relation,
        p: _RawRelation,
        q: _RawRelation | None,
    ) -> None:
        for side in (p, q):
            if side is None:
                continue
            field = RelationField(
                name=side.name,
                target=side.target,
                many=side.many,
                required=side.required and not side.many,
                relation=relation,
            )
            types[side.owner].fields[side.name] = field
        if relation.holder_field is None:
            types[relation.holder].hidden_keys.append(relation)
        elif relation.column in types[relation.holder].fields:
            self.problems.add(
                p.where,
                f"field {relation.holder}.{relation.column} clashes with the key column of "
                f"relation {relation.holder}.{relation.holder_field}",
            )

    # -- generated names ---------------------------------------------------------------

    def _check_generated_names(self, types: dict[str, ObjectType]) -> None:
        taken: dict[str, str] = {}
        declared = set(types) | set(self.enums)
        for type_name in types:
            generated = names.names_for(type_name)
            where = self.type_where.get(type_name, BUILTIN_FILE)
            for input_name in generated.input_types:
                if input_name in declared:
                    self.problems.add(
                        self.type_where[input_name],
                        f"type name '{input_name}' clashes with a name generated for {type_name}",
                    )
            for field in generated.root_fields:
                if field in names.RESERVED_ROOT_FIELDS:
                    self.problems.add(
                        where, f"type '{type_name}' would generate the reserved field '{field}'"
                    )
                elif field in taken:
                    self.problems.add(
                        where,
                        f"type '{type_name}' generates the field '{field}', which "
                        f"{taken[field]} generates too",
                    )
                else:
                    taken[field] = f"type '{type_name}'"
            self._check_filter_names(types[type_name], where)

    def _check_filter_names(self, obj: ObjectType, where: str) -> None:
        seen: dict[str, str] = {}
        reported: set[tuple[str, str]] = set()
        for field in obj.fields.values():
            suffixes: tuple[str, ...] = ()
            if isinstance(field, RelationField):
                suffixes = names.TO_MANY_FILTERS if field.many else ("",)
            elif field.comparable:
                suffixes = ("", *names.STRING_FILTERS)
            for suffix in suffixes:
                key = f"{field.name}_{suffix}" if suffix else field.name
                other = seen.get(key, field.name)
                # One line per pair of fields: `title` and `title_not` share five filters.
                if other != field.name and (other, field.name) not in reported:
                    reported.add((other, field.name))
                    self.problems.add(
                        where,
                        f"fields {obj.name}.{other} and {obj.name}.{field.name} both make "
                        f"the filter '{key}'; rename one",
                    )
                seen.setdefault(key, field.name)


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
    return None, f"expected {_a(kind.value)} value, got {raw!r}"


def _a(word: str) -> str:
    """``enum`` -> ``an enum``, ``type`` -> ``a type``."""
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"
