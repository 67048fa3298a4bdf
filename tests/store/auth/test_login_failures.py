"""The login failure rows: one per account tried, counted, never started twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bastion.store import Store
from bastion.store.auth.login_failures import LoginFailureRows, LoginFailures
from bastion.store.auth.tables import LOGIN_FAILURE_TABLE
from bastion.tools.clock import FrozenClock


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
