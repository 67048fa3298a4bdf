"""Parse ``schema.graphql`` (SDL) into a :class:`~bastion.model.types.Model`.

Every problem is reported as ``file:line:column: reason``, one line each, and all problems of a
file are collected before giving up, so a user fixes them in one round
(:mod:`bastion.model.problems`). The built-in ``User`` is read first, then the project's file,
in passes that each have their own module:

1. :mod:`~bastion.model.declarations`: the types and enums declared, names checked, extensions
   applied;
2. :mod:`~bastion.model.fields`: each type's fields and their directives;
3. :mod:`~bastion.model.relations`: the relation sides paired into relations;
4. :mod:`~bastion.model.name_clashes`: the GraphQL names the model would generate.
"""

from __future__ import annotations

from graphql import GraphQLSyntaxError, Source, parse
from graphql.language import DefinitionNode, Lexer, TokenKind

from bastion.errors import ProjectError
from bastion.model.declarations import BUILTIN_FILE, BUILTIN_USER_SDL, Declarations, declare
from bastion.model.fields import FieldReader
from bastion.model.name_clashes import check_generated_names
from bastion.model.problems import Problems
from bastion.model.relations import pair_relations
from bastion.model.types import Model, ObjectType


def parse_model(text: str, file_name: str = "schema.graphql") -> Model:
    """Parse SDL text into a model, or raise :class:`ProjectError` listing every problem."""
    problems = Problems()
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
    return _build(definitions, problems)


def _is_blank(source: Source) -> bool:
    """True when the source holds no tokens at all, only whitespace and comments."""
    try:
        return Lexer(source).advance().kind is TokenKind.EOF
    except GraphQLSyntaxError:
        return False


def _build(definitions: list[tuple[Source, DefinitionNode]], problems: Problems) -> Model:
    """The passes, in order; the model once none of them found a problem."""
    declared = declare(definitions, problems)
    reader = FieldReader(declared, problems)
    types: dict[str, ObjectType] = {}
    for name, nodes in declared.type_nodes.items():
        types[name] = reader.read_type(name, nodes)
    relations = pair_relations(reader.sides, types, problems)
    _restore_order(types, declared)
    for name, nodes in declared.type_nodes.items():
        # Counted on the declaration: a field refused for another reason is already reported.
        if all(node.name.value == "id" for _, node in nodes):
            problems.add(declared.type_where[name], f"type '{name}' has no fields besides id")
    check_generated_names(types, declared, problems)
    if problems.lines:
        raise ProjectError(problems.lines)
    return Model(types=types, enums=declared.enums, relations=relations)


def _restore_order(types: dict[str, ObjectType], declared: Declarations) -> None:
    """Put each type's fields back in declaration order: relations were attached last."""
    for obj in types.values():
        order = [f.name.value for _, f in declared.type_nodes[obj.name]]
        obj.fields = dict(
            sorted(obj.fields.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)
        )
