"""What non-root introspection shows: no root-only field, and no type only those fields reach."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.graphql.visibility import hidden_names, public_schema
from bastion.project import Project
from bastion.project.service import Service

SCHEMA = "type Note { text: String! }"
TYPES = "{ __schema { types { name } } }"
AUDIT_TYPE = '{ __type(name: "AuditEvent") { name fields { name } } }'


async def test_root_only_types_are_described_to_root_tokens_only(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, root_tokens=["ops"]))
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(["ops"])
    root = {"Authorization": f"Bearer {await tokens.get('ops')}"}

    names = {t["name"] for t in (await client.data(TYPES))["__schema"]["types"]}
    assert "AuditEvent" not in names
    # Types public fields reach are still there, the model's and Bastion's own.
    assert {"Note", "User", "Viewer", "Node"} <= names
    assert await client.data(AUDIT_TYPE) == {"__type": None}

    body = await client.gql(AUDIT_TYPE, headers=root)
    assert body["data"]["__type"]["name"] == "AuditEvent"
    body = await client.gql(TYPES, headers=root)
    assert "AuditEvent" in {t["name"] for t in body["data"]["__schema"]["types"]}


async def test_a_root_only_type_named_by_a_non_root_document_is_unknown(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, root_tokens=["ops"]))
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(["ops"])
    root = {"Authorization": f"Bearer {await tokens.get('ops')}"}
    document = "{ viewer { ... on AuditEvent { id } } }"
    body = await client.gql(document)
    assert body["errors"][0]["message"] == "Unknown type 'AuditEvent'."
    # Root, who knows the type, is told why it does not fit there.
    body = await client.gql(document, headers=root)
    assert "can never be of type 'AuditEvent'" in body["errors"][0]["message"]


def test_hidden_names_match_only_whole_hidden_names(
    make_project: Callable[..., Project],
) -> None:
    schema = Service(make_project(SCHEMA), secret=b"s" * 32).schema
    pattern = hidden_names(schema, public_schema(schema))
    assert pattern is not None
    assert pattern.search("{ users { id } }")
    assert pattern.search("{ ... on Query { a: auditEvents { id } } }")
    assert not pattern.search("{ user(id: 1) { id } usersCount notes { id } }")
