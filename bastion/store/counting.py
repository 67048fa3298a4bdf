"""The statements a piece of work sends to the database, counted: what a request costs.

Tests assert these counts (a refresh is so many statements, a list of a hundred items one per
relation level) and the benchmarks print them. Statements come two ways: through SQLAlchemy
(its engine events) and past it, on a driver's connection (:mod:`bastion.store.unseen`); both
are counted here, in the order they run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bastion.store import unseen

# The word after which an INSERT, UPDATE or DELETE names its table.
_TABLE_AT = {"INSERT": 2, "UPDATE": 1, "DELETE": 2}


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements every engine of this process runs inside the block, each as its
    first words (``"UPDATE _bastion_session"``, ``"SELECT"``), commits as ``"COMMIT"``.

    PostgreSQL's driver begins a transaction without a statement: it is counted as
    ``"BEGIN"`` all the same, as SQLite's (which Bastion sends itself) is.
    """
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        words = statement.split()
        verb = words[0].upper()
        target = _TABLE_AT.get(verb)
        seen.append(f"{verb} {words[target]}" if target and len(words) > target else verb)

    def committed(_conn: Any) -> None:
        seen.append("COMMIT")

    def began(conn: Any) -> None:
        if conn.dialect.name != "sqlite":
            seen.append("BEGIN")

    def alone(statement: str) -> None:
        executed(None, None, statement)

    event.listen(Engine, "before_cursor_execute", executed)
    event.listen(Engine, "commit", committed)
    event.listen(Engine, "begin", began)
    unseen.LISTENERS.append(alone)
    try:
        yield seen
    finally:
        unseen.LISTENERS.remove(alone)
        event.remove(Engine, "before_cursor_execute", executed)
        event.remove(Engine, "commit", committed)
        event.remove(Engine, "begin", began)
