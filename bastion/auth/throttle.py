"""Brute-force limits on credential attempts: per client IP and per account.

Every attempt counts, whether it comes alone, as an alias or in a batch, because the login
code calls this once per attempt (see :class:`bastion.auth.logins.Logins`):

- Per client IP, a moving window: logins and refreshes together, and anonymous logins with
  sign-ups apart. Over a limit the attempt is refused with ``RATE_LIMITED`` and
  ``retryAfter`` seconds. The counts are the ``limits`` library's, in memory (one process)
  or in Redis when ``storage`` names one; on a PostgreSQL database without Redis they are
  kept in the database (:mod:`bastion.store.auth.attempts`), so that every node sharing it
  counts the same attempts.
- Per account (the email or username tried, whether or not it exists, so the answer never
  tells which accounts exist): from ``delay_after`` failures each attempt must wait 1 s, 2 s,
  4 s... after the last failure (``RATE_LIMITED``); from ``lock_after`` failures the account is
  locked for a minute, doubling at each further failure up to ``max_lock_minutes``, and every
  attempt meanwhile gets the same "Invalid credentials" as a wrong password, without a
  password hash being computed. Failures older than ``reset_after_hours`` are forgotten, a
  success forgets them at once, and a lock always ends. This state lives in the database, so
  it holds across workers and restarts and reads the injected clock.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from datetime import datetime, timedelta

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import InvalidCredentials
from bastion.auth.audit import Audit, AuditEvent, AuditType
from bastion.auth.throttle_settings import ThrottleConfig
from bastion.errors import BastionError, Code
from bastion.model.emails import email_key
from bastion.store.auth.attempts import AttemptRows
from bastion.store.auth.login_failures import LoginFailureRows, LoginFailures
from bastion.store.database import Database
from bastion.tools.clock import Clock

LOGIN = "login"
"""Logins of every provider and refreshes."""
SIGNUP = "signup"
"""Anonymous logins and sign-ups: each makes a user."""
PRUNE_EVERY = 1000
"""Every this many attempts counted in the database, those past every window are deleted."""


class RateLimited(BastionError):
    """Too many attempts: try again in ``retry_after`` seconds."""

    code = Code.RATE_LIMITED

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many attempts; try again in {retry_after} seconds", retryAfter=retry_after
        )
        self.retry_after = retry_after


def account_key(email: str | None = None, username: str | None = None) -> str:
    """The key of the account a password attempt names (a digest: no attacker text is kept)."""
    # In the form the login looks it up in, never refused: a malformed name is an account
    # name like any other here, and its attempt is refused later with the generic error.
    return keyed_account_key(email_key(email) if email is not None else None, username)


def keyed_account_key(email: str | None = None, username: str | None = None) -> str:
    """:func:`account_key` of an email given as :func:`email_key` made it already (a login
    normalises the address once, for its look-up and its throttle)."""
    name = f"email:{email}" if email is not None else f"username:{username}"
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def function_account_key(function: str, value: object) -> str:
    """The key of the account a credential function's attempt names (see ``throttle_by``).

    Apart from the built-in logins' keys, and per function: a code request's success must not
    forget the failures of the code check. The value is trimmed, NFKC-normalised and
    case-folded, so that spellings the function may treat as one account count as one.
    """
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip().casefold()
    name = f"function:{function}:{text}"
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


class Throttle:
    """The limits of one project."""

    def __init__(
        self,
        config: ThrottleConfig,
        db: Database,
        table: Table,
        clock: Clock,
        audit: Audit,
        attempts: AttemptRows | None = None,
    ) -> None:
        """``attempts``: count the per-IP attempts in the database (shared by several
        processes) rather than in ``config.storage``."""
        self.config = config
        self._attempts = attempts
        self._hits = 0
        self._audit = audit
        self._db = db
        self._rows = LoginFailureRows(table)
        self._clock = clock
        self._limiter = MovingWindowRateLimiter(storage_from_string(config.storage))
        self._items: dict[str, RateLimitItem] = {
            LOGIN: parse(config.login_per_ip),
            SIGNUP: parse(config.signup_per_ip),
        }

    @property
    def shared_storage(self) -> bool:
        """Whether the per-IP counters live in a shared service (Redis), not in this process."""
        return not self.config.storage.startswith("async+memory")

    async def storage_reachable(self) -> bool:
        """Whether the counters' storage answers (always, for counters kept in memory)."""
        reachable: bool = await self._limiter.storage.check()
        return reachable

    # -- per client IP ----------------------------------------------------------------------

    async def attempt(self, ip: str | None, kind: str) -> None:
        """Count one attempt of ``kind`` from ``ip``; RateLimited when over the limit.

        ``ip`` is None for in-process callers (seeding, functions): they are not limited.
        """
        if not self.config.enabled or ip is None:
            return
        item = self._items[kind]
        if self._attempts is not None:
            retry_after = await self._shared_hit(item, kind, ip)
            if retry_after is None:
                return
        elif await self._limiter.hit(item, kind, ip):
            return
        else:
            stats = await self._limiter.get_window_stats(item, kind, ip)
            # The storage keeps its own (real) time: the window ends at its reset time.
            retry_after = stats.reset_time - time.time()
        event = AuditEvent(AuditType.RATE_LIMITED, ip=ip, detail={"limit": kind})
        await self._audit.sampled((AuditType.RATE_LIMITED, kind, ip), event)
        raise RateLimited(max(1, math.ceil(retry_after)))

    async def _shared_hit(self, item: RateLimitItem, kind: str, ip: str) -> float | None:
        """Count the attempt in the database; None when allowed, else seconds to wait."""
        assert self._attempts is not None
        now = self._clock()
        window = timedelta(seconds=item.get_expiry())
        async with self._db.write() as conn:
            counted = await self._attempts.hit(conn, f"{kind}:{ip}", now, window, item.amount)
            self._hits += 1
            if self._hits % PRUNE_EVERY == 0:  # the keys of clients that stopped trying
                longest = max(timedelta(seconds=i.get_expiry()) for i in self._items.values())
                await self._attempts.prune(conn, now - longest)
        if counted.room_at is None:
            return None
        return (counted.room_at - now).total_seconds()

    # -- per account ------------------------------------------------------------------------

    def _wait_until(self, failures: int, last: datetime) -> datetime | None:
        config = self.config
        if failures < config.delay_after or failures >= config.lock_after:
            return None  # no delay yet, or the locks govern
        return last + timedelta(seconds=2 ** min(failures - config.delay_after, 20))

    async def gate(self, account: str) -> bool:
        """Refuse an attempt on a locked or cooling-down account; True when it has failures.

        A locked account answers InvalidCredentials, like a wrong password; a delay answers
        RateLimited. The failures are read in a transaction of their own.
        """
        if not self.config.enabled:
            return False
        async with self._db.read() as conn:
            row = await self._rows.get(conn, account)
        return await self.judge(account, row)

    async def judge(self, account: str, row: LoginFailures | None) -> bool:
        """:meth:`gate` with the account's failures read by the caller (a password login
        reads them in the statement that reads the account)."""
        if not self.config.enabled:
            return False
        now = self._clock()
        if row is None or self._forgotten(row.last_failure_at, now):
            return row is not None
        if row.locked_until is not None and row.locked_until > now:
            raise InvalidCredentials()
        ready = self._wait_until(row.failures, row.last_failure_at)
        if ready is not None and now < ready:
            event = AuditEvent(AuditType.RATE_LIMITED, detail={"account": account[:16]})
            await self._audit.sampled((AuditType.RATE_LIMITED, account), event)
            raise RateLimited(max(1, math.ceil((ready - now).total_seconds())))
        return True

    async def reserve(self, account: str) -> None:
        """Count an attempt on ``account`` as a failure before it is checked, in the same
        transaction as the check of its lock and delay; a success then forgets it.

        The check and the count are one step, so concurrent attempts cannot all pass a gate
        that has not counted any of them yet: the tenth of forty parallel attempts finds nine
        failures. Refusals are those of :meth:`gate`.
        """
        if not self.config.enabled:
            return
        refusal: BastionError | None = None
        for _ in range(2):  # a concurrent first attempt may insert the row before us
            try:
                async with self._db.write() as conn:
                    refusal = await self._refusal(conn, account)
                    if refusal is None:
                        await self._record_failure(conn, account)
                break
            except IntegrityError:
                continue
        if isinstance(refusal, RateLimited):
            event = AuditEvent(AuditType.RATE_LIMITED, detail={"account": account[:16]})
            await self._audit.sampled((AuditType.RATE_LIMITED, account), event)
        if refusal is not None:
            raise refusal

    async def _refusal(self, conn: AsyncConnection, account: str) -> BastionError | None:
        """Why an attempt on ``account`` is refused now (its row locked until the commit)."""
        now = self._clock()
        row = await self._rows.get(conn, account, for_update=True)
        if row is None or self._forgotten(row.last_failure_at, now):
            return None
        if row.locked_until is not None and row.locked_until > now:
            return InvalidCredentials()
        ready = self._wait_until(row.failures, row.last_failure_at)
        if ready is not None and now < ready:
            return RateLimited(max(1, math.ceil((ready - now).total_seconds())))
        return None

    async def succeeded(self, account: str) -> None:
        """Forget the account's failures, in a transaction of its own."""
        if self.config.enabled:
            async with self._db.write() as conn:
                await self.succeeded_in(conn, account)

    def _forgotten(self, last_failure: datetime, now: datetime) -> bool:
        return now - last_failure > timedelta(hours=self.config.reset_after_hours)

    async def failed(self, account: str) -> None:
        """Record a failed attempt on ``account`` (in a transaction of its own)."""
        if not self.config.enabled:
            return
        for _ in range(2):  # a concurrent first failure may insert the row before us
            try:
                async with self._db.write() as conn:
                    await self._record_failure(conn, account)
                return
            except IntegrityError:
                continue

    async def _record_failure(self, conn: AsyncConnection, account: str) -> None:
        now, config = self._clock(), self.config
        row = await self._rows.get(conn, account, for_update=True)
        failures = (
            1 if row is None or self._forgotten(row.last_failure_at, now) else row.failures + 1
        )
        locked_until = None
        if failures >= config.lock_after:
            minutes = min(
                config.max_lock_minutes,
                config.lock_minutes * 2 ** min(failures - config.lock_after, 20),
            )
            locked_until = now + timedelta(minutes=minutes)
        state = LoginFailures(failures, now, locked_until)
        if row is None:
            await self._rows.add(conn, account, state)
        else:
            await self._rows.replace(conn, account, state)

    async def succeeded_in(self, conn: AsyncConnection, account: str) -> None:
        """Forget the account's failures, in the caller's (login) transaction."""
        await self._rows.forget(conn, account)
