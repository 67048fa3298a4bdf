"""Statements SQLAlchemy never sees, told to whoever counts what a request costs the database.

Some statements go straight to a driver's connection: those read alone
(:meth:`bastion.store.database.Database.read_alone`), those compiled once and run on the
driver (:mod:`bastion.store.direct`), and the ``BEGIN`` and ``COMMIT`` of SQLite's writer
(:mod:`bastion.store.writer`). They pass no SQLAlchemy event, so each is told here instead:
tests and benchmarks count them beside SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import Callable

LISTENERS: list[Callable[[str], None]] = []
"""Called with the text of every statement run past SQLAlchemy."""


def tell(sql: str) -> None:
    """Tell the listeners that ``sql`` runs."""
    for listener in LISTENERS:
        listener(sql)
