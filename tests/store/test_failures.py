"""Database failures that are states, not bugs, get codes: real SQLite errors, real sockets."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bastion.errors import Code
from bastion.store.database import Database
from bastion.store.failures import meaning


async def test_a_write_lock_held_by_another_process_means_retry_later(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    db = Database(make_url(f"sqlite+aiosqlite:///{path}"))
    try:
        with pytest.raises(OperationalError) as locked:
            async with db.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA busy_timeout=0")
                await conn.execute(text("BEGIN IMMEDIATE"))
        known = meaning(locked.value)
        assert known is not None and known.code is Code.SERVICE_UNAVAILABLE
        assert known.extensions["retryAfter"] >= 1
    finally:
        other.rollback()
        other.close()
        await db.close()


def test_a_full_database_means_storage_full(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "full.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count=3")  # SQLite's own "database or disk is full"
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("INSERT INTO t VALUES (?)", ("x" * 100_000,))
    known = meaning(full.value)
    assert known is not None and known.code is Code.STORAGE_FULL
    conn.close()


def test_a_refused_connection_means_unreachable() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with pytest.raises(OSError) as refused:
        socket.create_connection(("127.0.0.1", port), timeout=5)
    known = meaning(refused.value)
    assert known is not None and known.code is Code.SERVICE_UNAVAILABLE
    assert known.extensions["retryAfter"] >= 5


def test_a_bug_keeps_no_code() -> None:
    assert meaning(sqlite3.OperationalError("no such table: nowhere")) is None
    assert meaning(KeyError("x")) is None
