"""Which documents may outlive their request in memory: none whose text may hold a secret.

The executor keeps each document it parsed by its text (its document cache) and the HTTP
endpoint each body without variables by its bytes (:mod:`bastion.http.known_bodies`), until
they are pushed out. A client that writes a password, a refresh token or a reset code into the
query text itself (``loginEmailPassword(input: {password: "…"})``, as curl users and quick
scripts do) would leave it there, readable in a core dump or by anything that reads the
process's memory, long after its request. Variables are never kept, so the clients that send
credentials as variables (realm-web, Apollo, the Slicknode clients) leave nothing.

A document is not kept when it holds a mutation, or names a credential field (a login, a
sign-up, a refresh: :mod:`bastion.graphql.credential_limit`), and has a string or a number
written in its text: in an argument, or as a variable's default. Such a document is parsed
and validated again for each request. Queries with literals (a filter, ``first: 10``) and
mutations whose values all come as variables are kept as before.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    Visitor,
    visit,
)

# What a secret can be written as; booleans, enums and nulls carry none.
_SCALARS = (StringValueNode, IntValueNode, FloatValueNode)


def _holds_scalar(value: ValueNode | None) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, ListValueNode):
        return any(_holds_scalar(each) for each in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_holds_scalar(each.value) for each in value.fields)
    return False


class _Finder(Visitor):
    """One walk of a document: whether it writes or logs in, and whether it has literals."""

    def __init__(self, credential_names: frozenset[str]) -> None:
        super().__init__()
        self.credential_names = credential_names
        self.sensitive = False
        self.literal = False

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is OperationType.MUTATION:
            self.sensitive = True

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in self.credential_names:
            self.sensitive = True

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if _holds_scalar(node.value):
            self.literal = True

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        if _holds_scalar(node.default_value):
            self.literal = True


def may_hold_secrets(document: DocumentNode, credential_names: frozenset[str]) -> bool:
    """Whether ``document``'s text may hold a secret (see the module): a mutation or a field
    of ``credential_names`` in it, and a string or number written in it."""
    finder = _Finder(credential_names)
    visit(document, finder)
    return finder.sensitive and finder.literal
