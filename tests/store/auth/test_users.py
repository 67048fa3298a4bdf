"""The rows behind an account (the user as authentication reads it, its password, its
identities), at the store floor: what ``bastion.auth`` relies on them to do, checked on a real
SQLite file without the auth services above them."""

from __future__ import annotations

from bastion.store import Store
from bastion.store.auth.tables import IDENTITY_TABLE, PASSWORD_TABLE, SESSION_TABLE
from bastion.store.auth.users import (
    IdentityRow,
    IdentityRows,
    PasswordRows,
    UserRows,
    only_of_provider,
)
from bastion.store.ids import new_id
from bastion.tools.clock import FrozenClock


async def test_a_password_login_finds_the_hash_by_email_first_and_only_beside_a_password(
    store: Store, clock: FrozenClock
) -> None:
    tables = store.tables.metadata.tables
    users = UserRows(store.tables["User"], tables[PASSWORD_TABLE])
    passwords = PasswordRows(tables[PASSWORD_TABLE])
    async with store.db.write() as conn:
        ann = await store.writer.create(conn, "User", {"email": "ann@example.com"})
        bob = await store.writer.create(conn, "User", {"email": "bob@example.com"})
        await passwords.add(conn, ann, "argon2-digest", clock())
    async with store.db.read() as conn:
        found = await users.password_login(conn, email="ann@example.com", username="bob")
        assert found is not None and (found.user_id, found.hash) == (ann, "argon2-digest")
        assert await users.password_login(conn, email="bob@example.com") is None
        assert await users.id_by_email(conn, "bob@example.com") == bob
        assert await passwords.held_by(conn, ann) and not await passwords.held_by(conn, bob)
        assert await passwords.changed_at(conn, bob) is None


async def test_identities_keep_their_data_as_json_and_list_oldest_first(
    store: Store, clock: FrozenClock
) -> None:
    identities = IdentityRows(store.tables.metadata.tables[IDENTITY_TABLE])
    async with store.db.write() as conn:
        user = await store.writer.create(conn, "User", {})
        for subject in ("first", "second"):
            row = IdentityRow(new_id(), user, "custom-token", subject, clock(), {"n": subject})
            await identities.add(conn, row)
        await identities.set_data(conn, "custom-token", "second", None)
    async with store.db.read() as conn:
        rows = await identities.of(conn, user)
        assert [(r.subject, r.data) for r in rows] == [("first", {"n": "first"}), ("second", None)]
        assert await identities.owner(conn, "custom-token", "second") == user
        assert await identities.holders(conn, "custom-token") == [user, user]


async def test_only_users_with_nothing_but_that_provider_and_unused_are_listed(
    store: Store, clock: FrozenClock
) -> None:
    tables = store.tables.metadata.tables
    identities = IdentityRows(tables[IDENTITY_TABLE])
    async with store.db.write() as conn:
        made = {}
        for name in ("alone", "linked"):
            made[name] = await store.writer.create(conn, "User", {})
            row = IdentityRow(new_id(), made[name], "anon-user", made[name], clock(), None)
            await identities.add(conn, row)
        other = IdentityRow(new_id(), made["linked"], "custom-token", "sub", clock(), None)
        await identities.add(conn, other)
    clock.advance(60)
    async with store.db.read() as conn:
        found = await only_of_provider(
            conn,
            users=store.tables["User"],
            identities=tables[IDENTITY_TABLE],
            passwords=tables[PASSWORD_TABLE],
            sessions=tables[SESSION_TABLE],
            provider="anon-user",
            cutoff=clock(),
        )
    assert found == [made["alone"]]
