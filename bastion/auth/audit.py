"""The audit log: a table of security events, read with ``bastion audit tail`` and by root.

An event says what happened (a login, a failed one, a refresh, a reuse of a refresh token...),
to whom (the user, when known), through which provider, and from where (IP, user agent).
It never holds a token, a password or a secret: the callers pass only those facts, and
``detail`` is for short reasons and names (``{"reason": "disabled key"}``, a root token's
name). Events of an action are written in the action's own transaction when it has one, so a
login that is rolled back leaves no "login" event; refusals are written on their own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bastion.store.auth.audit import AuditQuery, AuditRow, AuditRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("bastion.audit")
"""Events also go here (at INFO) when ``bastion serve --log-audit`` is on; off otherwise."""

MAX_AGENT_LENGTH = 256
# Refusals and throttling come in floods: one event per (who, what) per window, counted.
SAMPLE_WINDOW_SECONDS = 60.0


class AuditType(StrEnum):
    """The kinds of event."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    RATE_LIMITED = "rate_limited"
    REFRESH = "refresh"
    REFRESH_REUSE = "refresh_reuse"
    LOGOUT = "logout"
    SESSION_REVOKED = "session_revoked"
    SESSIONS_REVOKED = "sessions_revoked"
    USER_DEACTIVATED = "user_deactivated"
    USER_ACTIVATED = "user_activated"
    EMAIL_CHANGED = "email_changed"
    ROOT_TOKEN_USED = "root_token_used"  # noqa: S105 - an event name
    KEY_ROTATED = "key_rotated"
    KEY_PRUNED = "key_pruned"
    PERMISSION_DENIED = "permission_denied"
    ADMIN_ACTION = "admin_action"  # a root token's action in the console or its fields
    # Accounts by email (bastion.auth.email): a mail queued, an address confirmed, a password
    # reset, a token or code refused. `detail.purpose` names the flow.
    EMAIL_SENT = "email_sent"
    EMAIL_CONFIRMED = "email_confirmed"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - an event name
    EMAIL_TOKEN_REFUSED = "email_token_refused"  # noqa: S105 - an event name


# Events that point at an attack rather than ordinary use.
SECURITY_EVENTS = frozenset({AuditType.REFRESH_REUSE, AuditType.RATE_LIMITED})


@dataclass(frozen=True)
class AuditEvent:
    """One event, as recorded or as read back (``id`` and ``at`` set when read)."""

    type: AuditType
    user_id: str | None = None
    provider: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    at: datetime | None = None

    @property
    def security(self) -> bool:
        """True for events that point at an attack (a refresh token used twice...)."""
        return self.type in SECURITY_EVENTS


class Audit:
    """Write and read the audit table of one project."""

    def __init__(self, db: Database, rows: AuditRows, clock: Clock) -> None:
        self._db = db
        self._rows = rows
        self._clock = clock
        self._sampled: dict[tuple[str | None, ...], tuple[float, int]] = {}
        self.observers: list[Callable[[AuditEvent], None]] = []
        """Told of every event, sampled ones included, as it happens (the metrics count them)."""

    def _row(self, event: AuditEvent) -> AuditRow:
        agent = event.user_agent[:MAX_AGENT_LENGTH] if event.user_agent else None
        return AuditRow(
            at=self._clock(),
            type=event.type.value,
            security=event.security,
            user_id=event.user_id,
            provider=event.provider,
            ip=event.ip,
            # Text a client sent: kept only when it can be stored as it is.
            user_agent=agent if agent is None or _storable(agent) else None,
            session_id=event.session_id,
            detail=json.dumps(event.detail, sort_keys=True) if event.detail else None,
        )

    def _observe(self, event: AuditEvent) -> None:
        for observer in self.observers:
            observer(event)

    async def record(self, event: AuditEvent, conn: AsyncConnection | None = None) -> None:
        """Write ``event``, in ``conn``'s transaction when given, else in one of its own."""
        self._observe(event)
        await self._write(event, conn)

    def row(self, event: AuditEvent) -> AuditRow:
        """The row ``event`` is stored as, for a statement that writes it beside other rows
        (a refresh's, :mod:`bastion.store.auth.rotation`): :meth:`noted` once it is."""
        return self._row(event)

    def noted(self, event: AuditEvent) -> AuditRow:
        """:meth:`record` but the write: ``event`` observed and logged, and its row, which the
        caller writes in a statement of its own (a login's with its session's rows, a
        refresh's with its rotation)."""
        self.note(event)
        return self._row(event)

    def note(self, event: AuditEvent) -> None:
        """:meth:`record` but the write, for an event whose :meth:`row` the caller wrote."""
        self._observe(event)
        _log_event(event)

    async def _write(self, event: AuditEvent, conn: AsyncConnection | None = None) -> None:
        _log_event(event)
        if conn is not None:
            await self._rows.insert(conn, self._row(event))
            return
        async with self._db.write() as own:
            await self._rows.insert(own, self._row(event))

    async def sampled(self, key: tuple[str | None, ...], event: AuditEvent) -> None:
        """An event that floods (refusals, throttling): the first of each window per ``key``
        is written, with how many of the previous window were not."""
        self._observe(event)
        now = time.monotonic()
        first, count = self._sampled.get(key, (0.0, 0))
        if now - first < SAMPLE_WINDOW_SECONDS:
            self._sampled[key] = (first, count + 1)
            return
        if len(self._sampled) > 10_000:  # bound what a flood of distinct keys takes
            self._sampled.clear()
        self._sampled[key] = (now, 1)
        if count > 1:
            event = replace(event, detail={**event.detail, "unrecorded_before": count - 1})
        await self._write(event)

    async def tail(
        self,
        limit: int = 50,
        *,
        types: Sequence[str] = (),
        user_id: str | None = None,
        after: int | None = None,
        before: int | None = None,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events matching, newest first (or oldest first after ``after``)."""
        query = AuditQuery(limit, types, user_id, after, before)
        async with self._db.read() as conn:
            rows = await self._rows.read(conn, query)
        return [
            AuditEvent(
                type=AuditType(r.type),
                user_id=r.user_id,
                provider=r.provider,
                ip=r.ip,
                user_agent=r.user_agent,
                session_id=r.session_id,
                detail=json.loads(r.detail) if r.detail else {},
                id=r.id,
                at=r.at,
            )
            for r in rows
        ]


def _log_event(event: AuditEvent) -> None:
    if not log.isEnabledFor(logging.INFO):  # as sampled as the table: a flood is one line
        return
    # The same facts as the row: never a token or a secret (the module's rule for events).
    log.info(
        "%s user=%s provider=%s ip=%s",
        event.type.value,
        event.user_id,
        event.provider,
        event.ip,
        extra={
            "event": event.type.value,
            "security": event.security,
            "user_id": event.user_id,
            "provider": event.provider,
            "ip": event.ip,
            "session_id": event.session_id,
            "detail": event.detail,
        },
    )


def switched(user_id: str, active: bool, by: str) -> AuditEvent:
    """The event of a user (de)activated ``by`` the CLI or a kind of viewer."""
    kind = AuditType.USER_ACTIVATED if active else AuditType.USER_DEACTIVATED
    return AuditEvent(kind, user_id=user_id, detail={"by": by})


def admin_action(
    actor: str, action: str, user_id: str | None = None, **detail: str | None
) -> AuditEvent:
    """The event of an administration field (``createUser``, ``rotateRootToken``...) used by
    ``actor`` (a root token's name), on ``user_id`` when it concerns a user. ``detail`` names
    what was acted on, never a secret."""
    return AuditEvent(
        AuditType.ADMIN_ACTION,
        user_id=user_id,
        detail={"actor": actor, "action": action, **{k: v for k, v in detail.items() if v}},
    )


def email_changed(
    user_id: str, by: str, *, ip: str | None = None, user_agent: str | None = None
) -> AuditEvent:
    """The event of a user's address changed ``by`` them (``changeEmail``), root, a provider.

    Neither address is kept: the user's row holds the new one.
    """
    return AuditEvent(
        AuditType.EMAIL_CHANGED, user_id=user_id, ip=ip, user_agent=user_agent, detail={"by": by}
    )


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
