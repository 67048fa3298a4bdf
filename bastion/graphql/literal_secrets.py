"""Which documents may outlive their request in memory: none whose text may hold a secret.

The executor keeps each document it parsed by its text (its document cache) and the HTTP
endpoint each body without variables by its bytes (:mod:`bastion.http.known_bodies`), until
they are pushed out. A client that writes a password, a refresh token or a reset code into the
query text itself (``loginEmailPassword(input: {password: "…"})``, as curl users and quick
scripts do) would leave it there, readable in a core dump or by anything that reads the
process's memory, long after its request. Variables are never kept, so the clients that send
credentials as variables (realm-web, Apollo, the Slicknode clients) leave nothing.

A document is not kept when it names a field that may take a secret and has a string or a
number written in its text: in an argument, or as a variable's default. The executor names
those fields: every root mutation but the generated data writes (the logins, sign-ups,
refreshes, password and email changes, codes; the project's functions) and every credential
field (:mod:`bastion.graphql.credential_limit`). Such a document is parsed and validated again
for each request. Data writes with literals (``createMovie(data: {year: 2000})``), queries
with literals (a filter, ``first: 10``) and documents whose values all come as variables are
kept as before.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    IntValueNode,
    StringValueNode,
    VariableDefinitionNode,
    Visitor,
    visit,
)

from bastion.graphql.value_nodes import holds

# What a secret can be written as; booleans, enums and nulls carry none.
_SCALARS = (StringValueNode, IntValueNode, FloatValueNode)


class _Finder(Visitor):
    """One walk of a document: whether it names a field that may take a secret, and whether
    it has literals."""

    def __init__(self, secret_fields: frozenset[str]) -> None:
        super().__init__()
        self.secret_fields = secret_fields
        self.sensitive = False
        self.literal = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        # By name wherever it is (a fragment on the root type holds root fields too).
        if node.name.value in self.secret_fields:
            self.sensitive = True

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        if holds(node.value, _SCALARS):
            self.literal = True

    def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> None:
        if holds(node.default_value, _SCALARS):
            self.literal = True


def may_hold_secrets(document: DocumentNode, secret_fields: frozenset[str]) -> bool:
    """Whether ``document``'s text may hold a secret (see the module): a field named in
    ``secret_fields`` in it, and a string or number written in it."""
    finder = _Finder(secret_fields)
    visit(document, finder)
    return finder.sensitive and finder.literal
