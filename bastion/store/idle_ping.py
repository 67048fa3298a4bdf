"""Pinging a pooled PostgreSQL connection before use only when it sat idle.

A connection the server or a proxy closed while it sat in the pool must be found before a
request uses it. SQLAlchemy's ``pool_pre_ping`` finds it by pinging on every checkout: a
round trip to the server before every transaction, most of them on a connection another
request returned a millisecond earlier (a tenth of a refresh's CPU on PostgreSQL). Here the
ping is sent only when the connection has been idle for :data:`IDLE_SECONDS` or more, in the
pool's ``checkout`` event, SQLAlchemy's documented way of pinging by hand: a failed ping
raises ``DisconnectionError``, on which the pool drops the connection and takes another.

A connection lost within that second (the server restarted under load) is found by the
statement that uses it instead: that request fails with ``SERVICE_UNAVAILABLE`` (a
``retryAfter`` given), and SQLAlchemy invalidates every older connection of the pool, so
the next requests open new ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_SECONDS = 1.0
"""How long a connection may sit in the pool and still be used without a ping."""

_RETURNED = "bastion_returned_at"  # the connection's info: when it last came back


def ping_when_idle(
    engine: AsyncEngine, clock: Callable[[], float] = time.monotonic, idle: float = IDLE_SECONDS
) -> None:
    """Ping ``engine``'s pooled connections at checkout when idle for ``idle`` seconds or
    more (a new connection never: it was just opened). ``clock`` is monotonic seconds."""

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = clock()

    def taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_RETURNED)
        # A clock that went back counts as idle: better one ping too many than a dead socket.
        if since is None or 0 <= clock() - since < idle:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise DisconnectionError("the pooled connection did not answer a ping") from error

    event.listen(engine.sync_engine, "checkin", returned)
    event.listen(engine.sync_engine, "checkout", taken)
