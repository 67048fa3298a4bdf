"""Bounded tables: what no longer counts is deleted, by the server on a schedule and by
``bastion prune``.

Four tables grow with use: sessions, refresh tokens, the audit log and the account throttle's
failure counts. Each is pruned in a write transaction of its own, by the function of its table
module in :mod:`bastion.store.auth`, after the retention of ``bastion.yml``'s ``retention:``
section (:mod:`bastion.auth.retention_settings`). A dry run counts what would go.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Table

from bastion.auth.retention_settings import RetentionConfig
from bastion.auth.throttle_settings import ThrottleConfig
from bastion.store.auth import audit, login_failures, refresh_tokens, sessions
from bastion.store.database import Database
from bastion.tools.clock import Clock

log = logging.getLogger("bastion.retention")


@dataclass(frozen=True)
class Pruned:
    """How many rows of each table were (or, in a dry run, would be) deleted."""

    sessions: int
    refresh_tokens: int
    audit_events: int
    throttle_rows: int

    @property
    def total(self) -> int:
        """Every row counted."""
        return self.sessions + self.refresh_tokens + self.audit_events + self.throttle_rows


@dataclass(frozen=True)
class RetentionTables:
    """The tables pruned."""

    sessions: Table
    refresh_tokens: Table
    audit: Table
    login_failures: Table


class Retention:
    """Prunes one project's tables after its retention settings."""

    def __init__(
        self,
        db: Database,
        tables: RetentionTables,
        config: RetentionConfig,
        throttle: ThrottleConfig,
        clock: Clock,
    ) -> None:
        self._db = db
        self._tables = tables
        self.config = config
        self._throttle = throttle
        self._clock = clock
        self._first_round = asyncio.Event()

    async def prune(self, *, dry_run: bool = False) -> Pruned:
        """Delete (or count, for a dry run) what is past its retention now."""
        now = self._clock()
        config, tables = self.config, self._tables
        async with self._db.write() as conn:
            # Refresh tokens first: those of pruned sessions go with them, counted there.
            tokens = await refresh_tokens.prune_expired(
                conn,
                tables.refresh_tokens,
                now - timedelta(days=config.refresh_tokens_days),
                dry_run=dry_run,
            )
        async with self._db.write() as conn:
            ended = await sessions.prune_ended(
                conn, tables.sessions, now - timedelta(days=config.sessions_days), dry_run=dry_run
            )
        async with self._db.write() as conn:
            events = await audit.prune_older(
                conn, tables.audit, now - timedelta(days=config.audit_days), dry_run=dry_run
            )
        async with self._db.write() as conn:
            throttle = await login_failures.prune_forgotten(
                conn,
                tables.login_failures,
                now,
                now - timedelta(hours=self._throttle.reset_after_hours),
                dry_run=dry_run,
            )
        return Pruned(ended, tokens, events, throttle)

    async def first_round(self) -> None:
        """Wait until :meth:`run_every` has ended its first round (tests count statements
        once the server's start-up writes are over)."""
        await self._first_round.wait()

    async def run_every(self, interval: timedelta, stop: asyncio.Event) -> None:
        """Prune now and then every ``interval`` until ``stop`` is set (the round under way
        ends first); a failed round is logged and the next one tries again."""
        while not stop.is_set():
            try:
                pruned = await self.prune()
            except Exception as error:  # the database may be busy or away: try next round
                log.warning("pruning failed: %s: %s", type(error).__name__, error)
            else:
                if pruned.total:
                    log.info(
                        "pruned %d sessions, %d refresh tokens, %d audit events, %d throttle rows",
                        pruned.sessions,
                        pruned.refresh_tokens,
                        pruned.audit_events,
                        pruned.throttle_rows,
                    )
            self._first_round.set()
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval.total_seconds())
