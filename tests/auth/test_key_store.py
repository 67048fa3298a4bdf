"""The signing keys' home in the database: sealed at rest, opened only with the server secret
that sealed them, imported once from the key folder of earlier versions, made once whatever
the number of nodes starting together. Real services on real databases (SQLite or PostgreSQL,
as the run says); the other tests of keys are in tests/auth/test_keys.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from bastion.auth.key_folder import KEYS_DIR, LEGACY_FILE
from bastion.auth.key_material import SigningKey, generate_key, key_file_bytes
from bastion.auth.key_store import KeysUnreadable
from bastion.auth.keys import KeySet
from bastion.auth.secret import SECRET_ENV
from bastion.errors import Code
from bastion.project import Project
from bastion.project.service import Service
from bastion.store.auth.tables import SIGNING_KEY_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import SIGNUP, Auth, age, private_forms

ALGORITHMS = ["EdDSA", "ES256", "RS256", "HS256"]


async def started(project: Project, clock: FrozenClock) -> Service:
    """A process of the project, started (the caller stops it)."""
    service = Service(project, clock)
    await service.start()
    return service


async def stored_rows(service: Service) -> list[Any]:
    table = service.store.tables.metadata.tables[SIGNING_KEY_TABLE]
    async with service.store.db.read() as conn:
        return list(await conn.execute(select(table).order_by(table.c.kid)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_a_key_is_sealed_at_rest_and_opens_as_itself(
    make_project: Callable[..., Project], clock: FrozenClock, algorithm: str
) -> None:
    project = make_project(auth={"signing": {"algorithm": algorithm}})
    service = await started(project, clock)
    try:
        key = service.auth.keys.signing_key()
        (row,) = await stored_rows(service)
        assert (row.kid, row.algorithm) == (key.kid, algorithm)
        sealed = bytes(row.sealed_key)
        assert all(form not in sealed for form in private_forms(key))
        again = KeySet(clock, service.auth.keys.store)
        await again.load()
        opened = again.signing_key()
        assert opened.kid == key.kid and opened.public_jwk() == key.public_jwk()
        if isinstance(key.material, bytes):
            assert opened.material == key.material
    finally:
        await service.stop()


async def test_a_tampered_or_moved_key_does_not_open(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    service = await started(project, clock)
    try:
        keys = service.auth.keys
        await keys.rotate("EdDSA")
        first, second = await stored_rows(service)
        table = service.store.tables.metadata.tables[SIGNING_KEY_TABLE]
        flipped = bytes(first.sealed_key[:-1]) + bytes([first.sealed_key[-1] ^ 1])
        for kid, sealed in ((first.kid, flipped), (first.kid, bytes(second.sealed_key))):
            async with service.store.db.write() as conn:
                stmt = update(table).where(table.c.kid == kid).values(sealed_key=sealed)
                await conn.execute(stmt)
            with pytest.raises(KeysUnreadable, match=f"signing key {first.kid} "):
                await keys.load()
    finally:
        await service.stop()


async def test_another_server_secret_stops_the_start_and_changes_nothing(
    make_project: Callable[..., Project], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project()
    service = await started(project, clock)
    before = await stored_rows(service)
    await service.stop()
    monkeypatch.setenv(SECRET_ENV, "another secret of at least thirty-two bytes")
    other = Service(project, clock)
    try:
        with pytest.raises(KeysUnreadable) as refused:
            await other.start()
        assert refused.value.code == Code.SERVER_SECRET_MISMATCH
        assert await stored_rows(other) == before
    finally:
        await other.stop()


def test_the_cli_says_it_in_one_line(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bastion.cli import main

    project = make_project()
    assert CliRunner().invoke(main, ["keys", "list", str(project.root)]).exit_code == 0
    monkeypatch.setenv(SECRET_ENV, "another secret of at least thirty-two bytes")
    result = CliRunner().invoke(main, ["keys", "list", str(project.root)])
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith("error: SERVER_SECRET_MISMATCH: the signing key ")
    assert "Traceback" not in result.output


# -- the key folder of earlier versions ---------------------------------------------------


def write_folder(project: Project, keys: list[SigningKey], legacy: datetime | None) -> None:
    """The folder as an earlier version left it: key files, an expiry marker, legacy.json."""
    folder = project.data_dir / KEYS_DIR
    folder.mkdir(parents=True)
    for key in keys:
        (folder / f"{key.kid}.json").write_bytes(key_file_bytes(key))
    (folder / f"{keys[0].kid}.until-1893459600").touch()
    (folder / f"{keys[0].kid}.until-1893456000").touch()  # a lower marker left behind
    if legacy is not None:
        (folder / LEGACY_FILE).write_text(f'{{"retired": "{legacy.isoformat()}"}}')


async def test_a_folder_is_imported_once_and_kept(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project(auth=SIGNUP)
    secret = await age(project, clock)  # served before keys were in the database
    now = clock()
    old = generate_key("ES256", now - timedelta(days=2), now - timedelta(days=2))
    old = SigningKey(old.kid, old.algorithm, old.material, old.created_at, old.activates_at, now)
    new = generate_key("EdDSA", now - timedelta(days=1), now)
    write_folder(project, [old, new], legacy=now - timedelta(days=3))
    files = sorted(p.name for p in (project.data_dir / KEYS_DIR).iterdir())
    auth = Auth(await client_for(project))
    keys = auth.service.auth.keys
    assert keys.signing_key().kid == new.kid
    statuses = {s.kid: s for s in keys.statuses()}
    assert set(statuses) == {new.kid, old.kid, None}
    assert statuses[None].retired_at == now - timedelta(days=3)  # the legacy record
    assert statuses[old.kid].prunable_at == datetime.fromtimestamp(1893459600 + 30, UTC)
    assert keys.verifying_key(old.kid) is not None
    assert keys.verifying_key(None) is not None and keys.verifying_key(None).material == secret
    # The folder is left as it was, and never read again: a change there changes nothing.
    assert sorted(p.name for p in (project.data_dir / KEYS_DIR).iterdir()) == files
    (project.data_dir / KEYS_DIR / f"{old.kid}.json").unlink()
    again = Auth(await client_for(project)).service.auth.keys
    assert {s.kid for s in again.statuses()} == set(statuses)


async def test_two_nodes_starting_at_once_make_one_set(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    key = generate_key("EdDSA", clock(), clock())
    write_folder(project, [key], legacy=None)
    services = [Service(project, clock) for _ in range(3)]
    try:
        # The tables first: nodes syncing the schema together is another matter.
        await services[0].store.sync()
        await asyncio.gather(*(s.auth.start() for s in services))
        assert {s.auth.keys.signing_key().kid for s in services} == {key.kid}
        assert [r.kid for r in await stored_rows(services[0])] == [key.kid]
    finally:
        for service in services:
            await service.stop()


async def test_two_new_nodes_starting_at_once_make_one_key(
    make_project: Callable[..., Project], clock: FrozenClock
) -> None:
    project = make_project()
    services = [Service(project, clock) for _ in range(3)]
    try:
        # The tables first: nodes syncing the schema together is another matter.
        await services[0].store.sync()
        await asyncio.gather(*(s.auth.start() for s in services))
        kids = {s.auth.keys.signing_key().kid for s in services}
        assert len(kids) == 1
        assert [r.kid for r in await stored_rows(services[0])] == list(kids)
    finally:
        for service in services:
            await service.stop()


def test_reencrypt_seals_the_keys_with_a_new_secret(
    make_project: Callable[..., Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bastion.cli import main

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["keys", *args, str(project.root)])

    project = make_project()
    old, new = "o" * 40, "n" * 40
    monkeypatch.setenv(SECRET_ENV, old)
    before = cli("list")
    assert before.exit_code == 0, before.output
    monkeypatch.setenv(SECRET_ENV, new)
    assert "SERVER_SECRET_MISMATCH" in cli("list").output
    monkeypatch.setenv("WRONG_SECRET", "w" * 40)
    wrong = cli("reencrypt", "--old-secret-env", "WRONG_SECRET")
    assert wrong.exit_code == 1 and "SERVER_SECRET_MISMATCH" in wrong.output
    monkeypatch.setenv("OLD_SECRET", old)
    done = cli("reencrypt", "--old-secret-env", "OLD_SECRET")
    assert done.exit_code == 0, done.output
    assert done.output == "Sealed 1 key with the current server secret.\n"
    after = cli("list")
    assert after.exit_code == 0, after.output
    assert after.output.splitlines()[1].split()[0] == before.output.splitlines()[1].split()[0]
    again = cli("reencrypt", "--old-secret-env", "OLD_SECRET")
    assert again.output == "Sealed 0 keys with the current server secret.\n"
    monkeypatch.delenv("OLD_SECRET")
    assert cli("reencrypt", "--old-secret-env", "OLD_SECRET").exit_code == 2


async def test_every_start_warns_while_the_imported_folder_holds_keys_in_clear(
    make_project: Callable[..., Project], clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    project = make_project(auth=SIGNUP)
    await age(project, clock)
    now = clock()
    write_folder(project, [generate_key("EdDSA", now, now)], legacy=None)
    folder = project.data_dir / KEYS_DIR
    warned: list[bool] = []
    for _ in range(2):  # the start that imports it, and the next
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bastion"):
            await (await started(project, clock)).stop()
        warned.append(
            any(f"{folder} still holds private keys in clear" in r.message for r in caplog.records)
        )
    assert warned == [True, True]
    for key_file in folder.glob("*.json"):
        key_file.unlink()  # the markers may stay: they hold no key
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bastion"):
        await (await started(project, clock)).stop()
    assert not [r for r in caplog.records if "private keys in clear" in r.message]
