"""Bastion's own text columns compare by code point on PostgreSQL (``COLLATE "C"``), as on
SQLite, including the tables of sign-in methods (second factors, passkeys, OpenID flows) and
mail; a database made before they did gets the collation at its next start."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bastion.project import Project
from bastion.store.auth.tables import SYSTEM_PREFIX
from tests import databases
from tests.store.test_sync import serving

pytestmark = pytest.mark.postgresql_only(reason="SQLite compares text by code point anyway")

COLLATIONS = """
SELECT table_name, column_name, coalesce(collation_name, '') FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name LIKE '\\_bastion\\_%'
  AND data_type IN ('text', 'character varying')
ORDER BY table_name, column_name
"""
SIGN_IN_TABLES = {
    "_bastion_totp",
    "_bastion_recovery_code",
    "_bastion_passkey",
    "_bastion_webauthn_challenge",
    "_bastion_openid_flow",
    "_bastion_openid_code",
    "_bastion_openid_used",
    "_bastion_email_token",
    "_bastion_mail_outbox",
    "_bastion_identity",
}


def collations(project: Project) -> list[tuple[str, str, str]]:
    return [(str(t), str(c), str(k)) for t, c, k in databases.query(project.root, COLLATIONS)]


async def test_every_text_column_of_bastion_compares_by_code_point(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    async with serving(project):
        pass
    found = collations(project)
    assert {table for table, _, _ in found} >= SIGN_IN_TABLES
    assert [row for row in found if row[2] != "C"] == []


async def test_a_database_made_before_gets_the_collation_at_its_next_start(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    async with serving(project) as client:
        user = await client.data('mutation { createUser(data: {email: "a@example.com"}) { id } }')
    user_id = user["createUser"]["id"]
    # As an older version made them: the database's default collation, and a row kept.
    for table, column, kind in [
        ("_bastion_passkey", "id", "varchar(1400)"),
        ("_bastion_passkey", "user_id", "varchar(24)"),
        ("_bastion_recovery_code", "digest", "varchar(64)"),
        ("_bastion_openid_code", "identity", "text"),
    ]:
        databases.query(
            project.root,
            f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {kind} COLLATE "default"',
            write=True,
        )
    databases.query(
        project.root,
        "INSERT INTO _bastion_passkey (id, user_id, name, public_key, sign_count, created_at) "
        "VALUES ('Zb-credential', ?, 'laptop', '\\x00', 0, now())",
        [user_id],
        write=True,
    )
    assert [row for row in collations(project) if row[2] != "C"] != []
    async with serving(project):
        pass
    assert [row for row in collations(project) if row[2] != "C"] == []
    kept = databases.query(project.root, "SELECT id, user_id FROM _bastion_passkey")
    assert kept == [("Zb-credential", user_id)]
    # Every table is Bastion's own: the collation pass touches no type of the model.
    assert all(table.startswith(SYSTEM_PREFIX) for table, _, _ in collations(project))
