"""The authentication floor's statements, at the store floor: what ``bastion.auth`` relies on
them to do, checked on a real SQLite file without the auth services above them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bastion.project import Project
from bastion.store import Store, open_store
from bastion.store.auth.api_keys import ApiKeyRow, ApiKeyRows
from bastion.store.auth.login_failures import LoginFailureRows, LoginFailures
from bastion.store.auth.tables import (
    API_KEY_TABLE,
    IDENTITY_TABLE,
    LOGIN_FAILURE_TABLE,
    PASSWORD_TABLE,
    SESSION_TABLE,
)
from bastion.store.auth.users import (
    IdentityRow,
    IdentityRows,
    PasswordRows,
    UserRows,
    only_of_provider,
)
from bastion.store.ids import new_id
from bastion.store.seed_marker import is_seeded, mark_seeded
from bastion.tools.clock import FrozenClock

SCHEMA = """
type Note {
  text: String!
  author: User
}
"""


@pytest.fixture
async def store(make_project: Callable[..., Project], clock: FrozenClock) -> AsyncIterator[Store]:
    project = make_project(SCHEMA)
    opened = open_store(project.model, project.database_url, clock)
    await opened.sync()
    yield opened
    await opened.close()


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


async def test_an_api_key_is_found_by_its_digest_and_only_by_its_owner(
    store: Store, clock: FrozenClock
) -> None:
    keys = ApiKeyRows(store.tables.metadata.tables[API_KEY_TABLE])
    async with store.db.write() as conn:
        owner = await store.writer.create(conn, "User", {})
        other = await store.writer.create(conn, "User", {})
        key = ApiKeyRow(new_id(), owner, "ci", False, clock(), None)
        await keys.add(conn, key, "a" * 64)
    async with store.db.read() as conn:
        assert await keys.by_digest(conn, "a" * 64) == key
        assert await keys.get(conn, other, key.id) is None
        assert await keys.name_taken(conn, owner, "ci")
        assert await keys.count_of(conn, other) == 0


async def test_a_second_first_failure_of_an_account_is_refused(
    store: Store, clock: FrozenClock
) -> None:
    # The throttle retries on IntegrityError when a concurrent attempt stored the row first.
    failures = LoginFailureRows(store.tables.metadata.tables[LOGIN_FAILURE_TABLE])
    state = LoginFailures(1, clock(), None)
    async with store.db.write() as conn:
        await failures.add(conn, "f" * 64, state)
    with pytest.raises(IntegrityError):
        async with store.db.write() as conn:
            await failures.add(conn, "f" * 64, state)
    locked = LoginFailures(2, clock(), clock() + timedelta(minutes=1))
    async with store.db.write() as conn:
        await failures.replace(conn, "f" * 64, locked)
        assert await failures.get(conn, "f" * 64, for_update=True) == locked
        await failures.forget(conn, "f" * 64)
        assert await failures.get(conn, "f" * 64) is None


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


async def test_the_seed_marker_is_set_once(store: Store) -> None:
    async with store.db.read() as conn:
        assert not await is_seeded(conn, store.tables)
    async with store.db.write() as conn:
        await mark_seeded(conn, store.tables)
    async with store.db.read() as conn:
        assert await is_seeded(conn, store.tables)


async def test_write_checks_read_ids_and_links_through_the_reader(store: Store) -> None:
    async with store.db.write() as conn:
        ann = await store.writer.create(conn, "User", {})
        notes = [
            await store.writer.create(
                conn, "Note", {"text": "a", "author": {"connect": {"id": ann}}}
            ),
            await store.writer.create(
                conn, "Note", {"text": "b", "author": {"connect": {"id": ann}}}
            ),
            await store.writer.create(conn, "Note", {"text": "c"}),
        ]
    table = store.tables["Note"]
    async with store.db.read() as conn:
        matching = await store.reader.ids_matching(conn, "Note", notes, table.c.text != "b")
        assert matching == {notes[0], notes[2]}
        assert await store.reader.linked_ids(conn, "Note", "authorId", notes) == [ann]
