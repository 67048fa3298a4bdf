"""At most one credential-bearing field per GraphQL document.

Aliases and fragments let one HTTP request carry hundreds of login attempts
(``a1: loginEmailPassword(...) a2: loginEmailPassword(...)``), each costing a password hash
and each escaping a per-request limit. A document that names more than one credential field
(counting every alias, through fragments, in any of its operations) is refused whole with
``BAD_REQUEST`` at validation, before any resolver runs. Fields are marked by an extension, so
functions can mark theirs (``credential: true``).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

CREDENTIAL = "bastionCredential"
"""The extension key that marks a root field as credential-bearing."""
MAX_CREDENTIAL_FIELDS = 1


def mark_credential(field: GraphQLField) -> None:
    """Count ``field`` as a credential attempt."""
    field.extensions = {**(field.extensions or {}), CREDENTIAL: True}


def is_credential(field: GraphQLField) -> bool:
    """Whether ``field`` is marked as credential-bearing."""
    return bool((field.extensions or {}).get(CREDENTIAL))


def credential_fields(schema: GraphQLSchema) -> frozenset[str]:
    """The names of the root fields marked as credential-bearing."""
    names: set[str] = set()
    for root in (schema.query_type, schema.mutation_type):
        if root is not None:
            names |= {n for n, f in root.fields.items() if is_credential(f)}
    return frozenset(names)


def _count(
    selections: SelectionSetNode,
    names: frozenset[str],
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> int:
    total = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            total += selection.name.value in names
        elif isinstance(selection, InlineFragmentNode):
            total += _count(selection.selection_set, names, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles are refused by validation
                total += _count(fragment.selection_set, names, fragments, seen | {name})
    return total


def credential_problem(names: frozenset[str], document: DocumentNode) -> str | None:
    """Why ``document`` is refused for naming several of the fields ``names``, or None."""
    if not names:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    total = sum(
        _count(d.selection_set, names, fragments, frozenset())
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )
    if total > MAX_CREDENTIAL_FIELDS:
        return (
            f"A document may carry at most {MAX_CREDENTIAL_FIELDS} login, sign-up or refresh "
            f"field (this one has {total}); send one per request"
        )
    return None
