"""Email tokens on their own: bound to purpose and row, single use, short-lived, hashed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bastion.auth.email.tokens import EmailTokens, InvalidEmailToken, Purpose
from bastion.project import Project
from bastion.project.service import Service
from bastion.store.auth.email_tokens import EmailTokenRows
from bastion.store.auth.tables import EMAIL_TOKEN_TABLE
from bastion.tools.clock import FrozenClock


@pytest.fixture
async def setup(
    make_project: Callable[..., Project], clock: FrozenClock
) -> AsyncIterator[tuple[Service, EmailTokens]]:
    service = Service(make_project(), clock)
    await service.start()
    rows = EmailTokenRows(service.store.tables.metadata.tables[EMAIL_TOKEN_TABLE])
    try:
        yield service, EmailTokens(rows, clock)
    finally:
        await service.stop()


async def test_a_token_works_once_for_its_purpose_until_it_expires(
    setup: tuple[Service, EmailTokens], clock: FrozenClock
) -> None:
    service, tokens = setup
    async with service.store.db.write() as conn:
        issued = await tokens.issue(conn, Purpose.RESET, "ann@example.com", None, 60)
        late = await tokens.issue(conn, Purpose.CONFIRM, "ann@example.com", None, 60)
    assert len(issued.token) == 43 and issued.code is None
    assert issued.token not in issued.row.token_hash
    async with service.store.db.write() as conn:
        with pytest.raises(InvalidEmailToken):
            await tokens.check(conn, Purpose.CONFIRM, issued.token_id, issued.token)
        with pytest.raises(InvalidEmailToken):  # the secret of another row
            await tokens.check(conn, Purpose.CONFIRM, late.token_id, issued.token)
        row = await tokens.take(conn, Purpose.RESET, issued.token_id, issued.token)
        assert row.email == "ann@example.com"
        with pytest.raises(InvalidEmailToken):
            await tokens.take(conn, Purpose.RESET, issued.token_id, issued.token)
    clock.advance(61)
    async with service.store.db.read() as conn:
        with pytest.raises(InvalidEmailToken):
            await tokens.check(conn, Purpose.CONFIRM, late.token_id, late.token)


async def test_a_new_token_retires_the_older_ones_of_its_purpose_and_address(
    setup: tuple[Service, EmailTokens],
) -> None:
    service, tokens = setup
    async with service.store.db.write() as conn:
        old = await tokens.issue(conn, Purpose.LOGIN, "ann@example.com", None, 60, 6)
        other = await tokens.issue(conn, Purpose.LOGIN, "bo@example.com", None, 60, 6)
        new = await tokens.issue(conn, Purpose.LOGIN, "ann@example.com", None, 60, 6)
    async with service.store.db.read() as conn:
        with pytest.raises(InvalidEmailToken):
            await tokens.check(conn, Purpose.LOGIN, old.token_id, old.token)
        await tokens.check(conn, Purpose.LOGIN, other.token_id, other.token)
        await tokens.check(conn, Purpose.LOGIN, new.token_id, new.token)


async def test_codes_are_checked_against_the_newest_token_within_a_budget(
    setup: tuple[Service, EmailTokens],
) -> None:
    service, tokens = setup
    async with service.store.db.write() as conn:
        issued = await tokens.issue(conn, Purpose.LOGIN, "ann@example.com", None, 60, 8)
    assert issued.code is not None and len(issued.code) == 8 and issued.code.isdigit()
    for _ in range(2):
        async with service.store.db.write() as conn:
            row = await tokens.count_code_attempt(conn, "ann@example.com", 2)
        assert row is not None and tokens.code_matches(row, issued.code)
        assert not tokens.code_matches(row, "1234567x")
        assert not tokens.code_matches(row, None)
    async with service.store.db.write() as conn:
        assert await tokens.count_code_attempt(conn, "ann@example.com", 2) is None
        assert await tokens.count_code_attempt(conn, "bo@example.com", 2) is None


async def test_tokens_a_day_past_their_end_are_deleted_by_the_next_issue(
    setup: tuple[Service, EmailTokens], clock: FrozenClock
) -> None:
    service, tokens = setup
    async with service.store.db.write() as conn:
        old = await tokens.issue(conn, Purpose.RESET, "ann@example.com", None, 60)
    clock.advance(60 + 86_400 + 1)
    async with service.store.db.write() as conn:
        await tokens.issue(conn, Purpose.RESET, "bo@example.com", None, 60)
    table = service.store.tables.metadata.tables[EMAIL_TOKEN_TABLE]
    async with service.store.db.read() as conn:
        ids = [row.id for row in (await conn.execute(table.select())).all()]
    assert old.token_id not in ids and len(ids) == 1
