"""A dedicated PostgreSQL connection that LISTENs on one channel.

Notifications need a connection of their own, held open and outside any pool: a pooled one
would be handed to requests, and a transaction-pooling proxy (PgBouncer) does not carry them
at all. So this one is opened with asyncpg directly, from the database URL. It may be lost
(a restart of the server, a proxy in between); :attr:`Listener.alive` says so and
:meth:`Listener.connect` may be called again. Whoever uses it must not depend on it alone:
a notification sent while it was down is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import URL

CONNECT_TIMEOUT = 5.0


def _dsn(url: URL) -> str:
    """The URL as asyncpg takes it (no ``+asyncpg`` driver part)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """LISTEN on ``channel``; call ``on_notify`` (from the event loop) with the payload of
    each notification."""

    def __init__(self, url: URL, channel: str, on_notify: Callable[[str], None]) -> None:
        self._dsn = _dsn(url)
        self._channel = channel
        self._on_notify = on_notify
        self._conn: Any = None  # an asyncpg.Connection once connected

    @property
    def alive(self) -> bool:
        """Whether the connection is open (notifications may arrive)."""
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self) -> None:
        """Open the connection and LISTEN; raises what asyncpg raises when it cannot."""
        import asyncpg  # the PostgreSQL driver: installed with PostgreSQL support only

        await self.close()
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
        try:
            await conn.add_listener(self._channel, self._heard)
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    def _heard(self, _conn: object, _pid: object, _channel: object, payload: object) -> None:
        self._on_notify(payload if isinstance(payload, str) else "")

    async def close(self) -> None:
        """Stop listening and close the connection, if it is open."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=CONNECT_TIMEOUT)
            except Exception:  # a connection already broken is closed enough
                conn.terminate()
