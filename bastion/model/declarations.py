"""The first pass over a schema: which types and enums it declares, and where.

The built-in ``User`` is declared first, from :data:`BUILTIN_USER_SDL`; the project's own
definitions follow. A type or enum name is checked once, where it is declared (built in,
duplicate, reserved, PascalCase), and an enum's values with it. ``extend type`` adds its
fields to a type declared anywhere in the files, so extensions are applied after every
declaration. The fields themselves are read by the next pass (:mod:`bastion.model.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import Source
from graphql.language import (
    DefinitionNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    Node,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
)

from bastion.model import names
from bastion.model.problems import Problems, a, where

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
"""The file name problems in :data:`BUILTIN_USER_SDL` are reported under."""


@dataclass
class Declarations:
    """What the definitions of a schema declare, with where each name was declared."""

    enums: dict[str, list[str]] = field(default_factory=dict)
    """Enum name -> its valid values, in declaration order."""
    type_nodes: dict[str, list[tuple[Source, FieldDefinitionNode]]] = field(default_factory=dict)
    """Object type name -> its field definitions, extensions included, in order."""
    type_where: dict[str, str] = field(default_factory=dict)
    """Type or enum name -> where it was declared."""
    builtin: set[str] = field(default_factory=set)
    """The types declared by Bastion itself (``User``)."""


def declare(definitions: list[tuple[Source, DefinitionNode]], problems: Problems) -> Declarations:
    """The types and enums of ``definitions``, extensions applied; problems go to ``problems``."""
    declared = Declarations()
    extensions: list[tuple[Source, ObjectTypeExtensionNode]] = []
    for source, node in definitions:
        if isinstance(node, ObjectTypeDefinitionNode):
            _declare_type(declared, problems, source, node)
        elif isinstance(node, EnumTypeDefinitionNode):
            _declare_enum(declared, problems, source, node)
        elif isinstance(node, ObjectTypeExtensionNode):
            extensions.append((source, node))
        else:
            kind = type(node).__name__.removesuffix("Node")
            problems.add(
                where(source, node),
                f"{kind} is not supported in the data model "
                "(use object types, `extend type` and enums)",
            )
    for source, ext in extensions:
        name = ext.name.value
        if name not in declared.type_nodes:
            problems.add(where(source, ext.name), f"cannot extend unknown type '{name}'")
            continue
        if ext.directives:
            problems.add(where(source, ext), "directives on types are not supported")
        declared.type_nodes[name].extend((source, f) for f in ext.fields or ())
    return declared


def _check_type_name(
    declared: Declarations, problems: Problems, source: Source, node: Node, name: str, what: str
) -> bool:
    at = where(source, node)
    # Checked before duplicates: the built-in User is declared first, so a project's own
    # `type User` would otherwise read as a duplicate of a definition the user never wrote.
    if name == "User" and source.name != BUILTIN_FILE:
        problems.add(at, "type 'User' is built in; add fields to it with `extend type User`")
        return False
    if name in declared.type_nodes or name in declared.enums:
        first = declared.type_where.get(name, "")
        problems.add(at, f"duplicate type '{name}' (first defined at {first})")
        return False
    if name in names.RESERVED_TYPE_NAMES:
        problems.add(at, f"'{name}' is a reserved name and cannot name {a(what)}")
        return False
    if not names.TYPE_NAME.match(name):
        problems.add(
            at,
            f"invalid {what} name '{name}': use PascalCase letters and digits, like Movie",
        )
        return False
    declared.type_where[name] = at
    return True


def _declare_type(
    declared: Declarations, problems: Problems, source: Source, node: ObjectTypeDefinitionNode
) -> None:
    name = node.name.value
    if not _check_type_name(declared, problems, source, node.name, name, "type"):
        return
    if node.interfaces:
        problems.add(where(source, node), "interfaces are not supported")
    if node.directives:
        problems.add(where(source, node), "directives on types are not supported")
    if source.name == BUILTIN_FILE:
        declared.builtin.add(name)
    declared.type_nodes[name] = [(source, f) for f in node.fields or ()]


def _declare_enum(
    declared: Declarations, problems: Problems, source: Source, node: EnumTypeDefinitionNode
) -> None:
    name = node.name.value
    if not _check_type_name(declared, problems, source, node.name, name, "enum"):
        return
    values: list[str] = []
    for value in node.values or ():
        v = value.name.value
        at = where(source, value)
        if v in values:
            problems.add(at, f"duplicate value '{v}' in enum {name}")
        elif not names.ENUM_VALUE.match(v) or v in names.ENUM_VALUE_FORBIDDEN:
            problems.add(at, f"invalid enum value '{v}' in enum {name}")
        else:
            values.append(v)
    if not values:
        problems.add(where(source, node), f"enum {name} has no values")
    declared.enums[name] = values
