"""The signing keys of a project: which key signs access tokens, which keys verify them.

Where they live. ``BASTION_SIGNING_KEYS``, when set, holds a JSON JWK set with private keys:
its first key signs, all of them verify, nothing is written, and the operator rotates by
changing the variable. Otherwise the database holds them (:mod:`bastion.auth.key_store`,
private keys sealed with the server secret), the same for every node sharing it; the first
start makes the first key, or imports the key folder of an earlier version. The legacy key is
a record there too: the server secret still verifies the kid-less HS256 tokens it signed
before the project had keys. It exists only for an old project (one whose database held data
before its derivation record existed, see :mod:`bastion.auth.derived`), and is honoured only
there: a new project accepts no kid-less token, whatever its secret. Even there it verifies
only tokens issued before it retired (see :mod:`bastion.auth.access_tokens`).

Each process holds the set in memory (signing and verifying read no database), so a token
signed by any of them must verify on all:

- ``rotate`` publishes the new key at once but dates its activation ``ACTIVATION_DELAY``
  later, and dates the previous key's retirement at that same moment. The change carries an
  event that makes every node read the set again at once (on PostgreSQL).
- Every process also reads the set again when it verifies a token or answers the JWKS and
  ``RELOAD_INTERVAL`` has passed (on the injected clock), and when a token names a kid it does
  not hold (at most once per ``UNKNOWN_KID_RELOAD``, so made-up kids cost no flood of reads).
- The signing key is the newest key whose activation has come. As every process has read the
  set again before that moment, none ever receives a token from a key it has not loaded; and
  the JWKS, cached for ``JWKS_MAX_AGE`` by other services, lists a key before it signs.

Pruning. A key is kept while a token it signed may live: until its retirement and the latest
expiry it signed, plus the leeway, have passed. That expiry is recorded by whoever signs
(node tokens live up to a year), rounded up to the hour: at most one write an hour per key and
process, and the stored value only ever goes up, whatever the races. Nothing records what the
legacy secret signed, so it is kept a year (the longest node token) unless pruned with
``force``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.auth.key_material import KID, SigningKey, generate_key, keys_from_jwks
from bastion.auth.key_store import KeyStore, StoredKeys
from bastion.auth.settings import SigningAlgorithm
from bastion.auth.token_times import LEEWAY_SECONDS as LEEWAY
from bastion.auth.token_times import LONGEST_LIFETIME as LEGACY_LIFETIME
from bastion.errors import BastionError
from bastion.tools.clock import Clock

KEYS_ENV = "BASTION_SIGNING_KEYS"
RELOAD_INTERVAL = 60.0  # seconds between two reads of the set by a process
UNKNOWN_KID_RELOAD = 5.0  # at most one read for unknown kids this often
JWKS_MAX_AGE = 300  # seconds others may cache /.well-known/jwks.json
# Longer than a reload plus the JWKS cache: every worker and verifier holds the key first.
ACTIVATION_DELAY = 600.0
_MARK_STEP = 3600

log = logging.getLogger("bastion.auth")


class KeysFromEnvironment(BastionError):
    """Rotation and pruning are the operator's when the keys come from the environment."""

    def __init__(self) -> None:
        super().__init__(
            f"the signing keys come from {KEYS_ENV}: rotate them by changing that variable "
            "(add the new key last, make it first once every worker has it, then drop the old)"
        )


@dataclass(frozen=True)
class KeyStatus:
    """A key as ``bastion keys list`` shows it (never its material)."""

    kid: str | None
    algorithm: str
    created_at: datetime | None
    activates_at: datetime | None
    retired_at: datetime | None
    status: str  # "signing", "pending", "verifying" or "prunable"
    prunable_at: datetime | None  # None: kept while it signs (or, from the environment, always)
    reason: str  # why it is kept that long


@dataclass(frozen=True)
class PrunedKeys:
    """What :meth:`KeySet.prune` removed, and what it kept."""

    removed: list[KeyStatus]
    kept: list[KeyStatus]


@dataclass(frozen=True)
class _Loaded:
    keys: dict[str | None, SigningKey]  # None: the legacy key, when the secret is known
    until: dict[str, int]  # kid -> the latest expiry recorded (epoch seconds)
    legacy_retired: datetime | None = None  # when the database records a legacy key


def _start(key: SigningKey) -> datetime:
    return key.activates_at or key.created_at or datetime.min.replace(tzinfo=UTC)


def _described(key: SigningKey, status: str, until: datetime | None, reason: str) -> KeyStatus:
    dates = (key.created_at, key.activates_at, key.retired_at)
    return KeyStatus(key.kid, key.algorithm, *dates, status, until, reason)


def _in_background(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coroutine`` as a task of the running loop (None without one), in a context of
    its own: a request's open transaction must not become the task's."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coroutine.close()
        return None
    return loop.create_task(coroutine, context=contextvars.Context())


class KeySet:
    """The keys of one project, in memory, kept in step with the database."""

    def __init__(
        self,
        clock: Clock,
        store: KeyStore | None,
        keys: list[SigningKey] | None = None,
        server_secret: bytes | None = None,
    ) -> None:
        """A set read from ``store`` once :meth:`start` ran, or made of ``keys`` (the
        environment's: the first signs). ``server_secret`` verifies the legacy tokens."""
        self._clock = clock
        self.store = store
        self._server_secret = server_secret
        # Whether the project may still accept the legacy key's tokens: only an old project
        # (see bastion.auth.derived), which the service learns at start from its database.
        self._legacy_admitted = False
        self._loaded = _Loaded({k.kid: k for k in keys or []}, {})
        self._order = [k.kid for k in keys or []]  # the environment's order
        self._read_at = self._now()
        self._stale = False  # another process changed the set: read it before using it
        self._unknown_read_at: float | None = None
        self._reading = asyncio.Lock()
        self._pending: dict[str, int] = {}  # kid -> a mark to record (see signed)
        self._tasks: set[asyncio.Task[None]] = set()

    def _now(self) -> float:
        return self._clock().timestamp()

    # -- reading the database -----------------------------------------------------------

    async def start(self, algorithm: SigningAlgorithm, legacy: bool) -> None:
        """Make (or import) the first keys unless done before, and load the set; a key that
        does not open stops the start (:class:`~bastion.auth.key_store.KeysUnreadable`).

        ``legacy``: an old project, whose secret signed tokens before keys existed: the
        legacy key's tokens stay accepted (a project that never signed any refuses them).
        """
        self._legacy_admitted = legacy
        if self.store is None:
            return
        await self.store.ensure(algorithm, legacy)
        await self.load()

    async def load(self) -> None:
        """Read the set from the database; its errors are the caller's."""
        assert self.store is not None
        self._read_at, self._stale = self._now(), False
        self._loaded = self._in_memory(await self.store.load())

    def _in_memory(self, stored: StoredKeys) -> _Loaded:
        keys: dict[str | None, SigningKey] = {k.kid: k for k in stored.keys}
        retired = stored.legacy_retired
        if retired is not None and self._server_secret is not None and self._legacy_admitted:
            keys[None] = SigningKey(None, "HS256", self._server_secret, retired_at=retired)
        return _Loaded(keys, dict(stored.until), retired)

    async def reload(self) -> None:
        """Read the set again; on failure keep what was loaded (and log why)."""
        if self.store is None:
            return
        self._read_at, self._stale = self._now(), False
        try:
            loaded = self._in_memory(await self.store.load())
        except Exception as error:  # the database is away, or a key no longer opens
            log.warning("signing keys: kept the loaded keys: %s", error)
            return
        if not any(kid is not None for kid in loaded.keys) and not self.empty:
            # Keys are never all pruned (the signing key stays): someone emptied the table.
            log.warning("signing keys: the database holds no key; kept the loaded keys")
            return
        self._loaded = loaded

    def reload_soon(self) -> None:
        """Read the set again in the background (another process changed it); a request
        that comes first reads it itself (:meth:`refresh`)."""
        self._stale = True
        self._track(_in_background(self.refresh()))

    def _track(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def refresh(self) -> None:
        """Read the set again if ``RELOAD_INTERVAL`` has passed since it was read.

        A clock that went back counts as due: a stale set must not outlive a clock change.
        """
        if self.wants_refresh():
            async with self._reading:  # one read for the requests that find it due together
                if self._due():
                    await self.reload()

    def wants_refresh(self, now: float | None = None) -> bool:
        """Whether :meth:`refresh` has anything to do: a read is due or under way. Checked
        first by every request, which then awaits no coroutine when it has not; ``now`` is
        the time the request read from this set's clock, if it did (a timestamp)."""
        # A read under way (one an event started) is awaited: it may hold what is new.
        return self.store is not None and (self._due(now) or self._reading.locked())

    def _due(self, now: float | None = None) -> bool:
        if now is None:
            now = self._now()
        return self._stale or not 0 <= now - self._read_at < RELOAD_INTERVAL

    async def learn(self, kid: str | None) -> None:
        """Read the set again when a token names a kid it does not hold: a key another
        process just made, perhaps. Once, then no more for a while, however many made-up
        kids arrive. The kid is only ever compared with the set: never a query."""
        if kid is None or kid in self._loaded.keys or self.store is None:
            return
        if not KID.fullmatch(kid):
            return
        now = self._now()
        last = self._unknown_read_at
        if last is not None and 0 <= now - last < UNKNOWN_KID_RELOAD:
            return
        self._unknown_read_at = now
        await self.reload()

    @property
    def empty(self) -> bool:
        """True when the set holds no key that can sign (not loaded yet)."""
        return not any(kid is not None for kid in self._loaded.keys)

    # -- signing and verifying ----------------------------------------------------------

    def signing_key(self) -> SigningKey:
        """The key that signs now: the newest whose activation has come."""
        return self._signer(self._loaded, self._clock())

    def _signer(self, loaded: _Loaded, now: datetime) -> SigningKey:
        if self.store is None:
            return loaded.keys[self._order[0]]
        keys = [k for k in loaded.keys.values() if k.kid is not None]
        if not keys:
            raise RuntimeError("no signing key is loaded: KeySet.start() has not run")
        active = [k for k in keys if _start(k) <= now]
        if active:
            return max(active, key=lambda k: (_start(k), k.kid or ""))
        # Only keys dated ahead of this clock (a skewed clock): the earliest one.
        return min(keys, key=lambda k: (_start(k), k.kid or ""))

    def verifying_key(self, kid: str | None) -> SigningKey | None:
        """The key named by a token's kid (None: the legacy key), if the set holds it."""
        return self._loaded.keys.get(kid)

    def holds(self, kid: str | None) -> bool:
        """Whether the set still holds the key ``kid`` (a pruned key's tokens are refused)."""
        return kid in self._loaded.keys

    def signed(self, key: SigningKey, expires_at: int) -> None:
        """Record that ``key`` signed a token expiring at ``expires_at`` (for pruning).

        Written in the background, so that a login waits for no extra write; a process
        without a running loop writes it with :meth:`settle`.
        """
        if self.store is None or key.kid is None:
            return
        mark = -(-expires_at // _MARK_STEP) * _MARK_STEP
        if mark <= self._loaded.until.get(key.kid, 0):
            return
        self._loaded.until[key.kid] = mark
        self._pending[key.kid] = max(mark, self._pending.get(key.kid, 0))
        self._track(_in_background(self._record_pending()))

    async def _record_pending(self) -> None:
        assert self.store is not None
        marks, self._pending = self._pending, {}
        if not marks:
            return
        try:
            await self.store.record_signed(marks)
        except Exception as error:
            # The token is still good: a signing failure would fail a login. What is lost is
            # only that prune may remove this key before the token expires.
            log.warning("signing keys: cannot record the expiry of %s: %s", ", ".join(marks), error)

    async def settle(self) -> None:
        """Finish the background reads and writes (the expiries recorded): before a process
        ends, or before a test counts statements."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pending:
            await self._record_pending()

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys of every asymmetric key that verifies (pending ones included)."""
        keys = sorted(
            (k for k in self._loaded.keys.values() if k.kid is not None),
            key=lambda k: (_start(k), k.kid or ""),
            reverse=True,
        )
        return {"keys": [jwk for k in keys if (jwk := k.public_jwk()) is not None]}

    # -- managing the set (the CLI) -----------------------------------------------------

    def _store(self) -> KeyStore:
        if self.store is None:
            raise KeysFromEnvironment()
        return self.store

    async def rotate(
        self, algorithm: SigningAlgorithm, activate_after: float = ACTIVATION_DELAY
    ) -> SigningKey:
        """Publish a new key that signs ``activate_after`` seconds from now; the keys that
        sign until then are dated retired at that moment."""
        store = self._store()
        now = self._clock()
        key = generate_key(algorithm, now, now + timedelta(seconds=activate_after))
        await store.publish(key)
        # As the database now says; not read back, since the caller's transaction (a console
        # request's, on SQLite) may not have committed yet.
        retire = {k.kid: replace(k, retired_at=key.activates_at) for k in self._signers()}
        keys = {**self._loaded.keys, **retire, key.kid: key}
        self._loaded = replace(self._loaded, keys=keys)
        return key

    def _signers(self) -> list[SigningKey]:
        return [k for k in self._loaded.keys.values() if k.kid is not None and not k.retired_at]

    def statuses(self) -> list[KeyStatus]:
        """Every key with its status, newest first."""
        loaded, now = self._loaded, self._clock()
        signer = self._signer(loaded, now)
        keys = sorted(
            (k for k in loaded.keys.values() if k.kid is not None),
            key=lambda k: (_start(k), k.kid or ""),
            reverse=True,
        )
        found = [_described(k, *self._status(k, signer, loaded, now)) for k in keys]
        if loaded.legacy_retired is not None:
            # What the secret signed was never recorded: the longest token it could sign.
            until = loaded.legacy_retired + timedelta(seconds=LEGACY_LIFETIME + LEEWAY)
            reason = "legacy server secret: node tokens it signed may live a year"
            state = "prunable" if now >= until else "verifying"
            retired = loaded.legacy_retired
            found.append(KeyStatus(None, "HS256", None, None, retired, state, until, reason))
        return found

    def _status(
        self, key: SigningKey, signer: SigningKey, loaded: _Loaded, now: datetime
    ) -> tuple[str, datetime | None, str]:
        """(status, prunable from, why) of a key with a kid."""
        if key is signer:
            return "signing", None, "signs new tokens"
        if self.store is None:
            return "verifying", None, f"listed in {KEYS_ENV}"
        if _start(key) > now:
            return "pending", None, "published; signs from its activation"
        retired = key.retired_at or _start(signer)
        if retired > now:  # another process may still sign with it until then
            return "verifying", None, "still signing until its retirement"
        signed = loaded.until.get(key.kid or "")
        last = max(retired.timestamp(), float(signed or 0))
        until = datetime.fromtimestamp(last + LEEWAY, UTC)
        reason = "latest token it signed" if signed and signed > retired.timestamp() else "retired"
        return ("prunable" if now >= until else "verifying"), until, reason

    async def prune(self, force: bool = False) -> PrunedKeys:
        """Remove the keys whose tokens have all expired (with ``force``: every key that no
        longer signs, and the legacy key). Never the signing key, never a pending one."""
        store = self._store()
        await self.load()
        removed: list[KeyStatus] = []
        kept: list[KeyStatus] = []
        for status in self.statuses():
            removable = status.status == "prunable" or (
                force and status.status == "verifying" and status.prunable_at is not None
            )
            (removed if removable else kept).append(status)
        if removed:
            kids = [s.kid for s in removed if s.kid is not None]
            legacy = any(s.kid is None for s in removed)
            await store.remove(kids, legacy=legacy)
            gone = {*kids, *([None] if legacy else [])}
            keys = {kid: k for kid, k in self._loaded.keys.items() if kid not in gone}
            retired = None if legacy else self._loaded.legacy_retired
            self._loaded = _Loaded(keys, self._loaded.until, retired)
        return PrunedKeys(removed, kept)


def open_keys(store: KeyStore | None, clock: Clock, server_secret: bytes | None = None) -> KeySet:
    """The signing keys of a project: from ``BASTION_SIGNING_KEYS``, else from ``store``
    (loaded by :meth:`KeySet.start`).

    ``server_secret`` is what verifies the legacy key's tokens once the start allows them
    (without it, they are refused: enough for a process that only signs).
    """
    from_env = os.environ.get(KEYS_ENV)
    if from_env is not None:
        return KeySet(clock, None, keys_from_jwks(from_env, KEYS_ENV))
    return KeySet(clock, store, server_secret=server_secret)
