"""The signing keys of a project: which key signs access tokens, which keys verify them.

Where they live. ``BASTION_SIGNING_KEYS``, when set, holds a JSON JWK set with private keys:
its first key signs, all of them verify, nothing is written, and the operator rotates by
changing the variable. Otherwise ``.bastion/keys/`` holds one file per key
(:mod:`bastion.auth.key_material`, mode 0600, written atomically), made on first use:

- ``<kid>.json``: kid, algorithm, created, activates, retired, the private key;
- ``<kid>.until-<epoch>``: empty; the key signed a token that expires at or before then;
- ``legacy.json``: the server secret still verifies the kid-less HS256 tokens it signed
  before the project had keys. Made only for an old project (one whose database held data
  before its derivation record existed, see :mod:`bastion.auth.derived`), and honoured only
  there: a new project accepts no kid-less token, whatever its secret. Even there it verifies
  only tokens issued before it retired (see :mod:`bastion.auth.access_tokens`).

Several workers share the folder, so a token signed by any of them must verify on all:

- ``rotate`` publishes the new key at once but dates its activation ``ACTIVATION_DELAY``
  later, and dates the previous key's retirement at that same moment.
- Every process reads the folder again when it uses the set and ``RELOAD_INTERVAL`` has
  passed (on the injected clock), and when a token names a kid it does not hold (at most
  once per ``UNKNOWN_KID_RELOAD``, so made-up kids cost no flood of disk reads).
- The signing key is the newest key whose activation has come. As every process has read the
  folder again before that moment, none ever receives a token from a key it has not loaded;
  and the JWKS, cached for ``JWKS_MAX_AGE`` by other services, lists a key before it signs.

Pruning. A key is kept while a token it signed may live: until its retirement and the latest
expiry it signed, plus the leeway, have passed. That expiry is recorded by whoever signs
(node tokens live up to a year), as marker files rounded up to the hour: at most one new
file an hour per process, lower markers removed once a higher one exists, so the recorded
expiry never goes down whatever the races. Nothing records what the legacy secret signed,
so it is kept a year (the longest node token) unless pruned with ``force``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bastion.auth.key_material import (
    KID,
    SigningKey,
    generate_key,
    key_file_bytes,
    keys_from_jwks,
    parse_time,
    read_key_file,
)
from bastion.auth.settings import SigningAlgorithm
from bastion.auth.token_times import LEEWAY_SECONDS as LEEWAY
from bastion.auth.token_times import LONGEST_LIFETIME as LEGACY_LIFETIME
from bastion.errors import BastionError, ProjectError
from bastion.tools.clock import Clock
from bastion.tools.private_files import make_private_folder, sync_folder, write_private_file

KEYS_ENV = "BASTION_SIGNING_KEYS"
KEYS_DIR = "keys"
LEGACY_FILE = "legacy.json"
RELOAD_INTERVAL = 60.0  # seconds between two reads of the folder by a process
UNKNOWN_KID_RELOAD = 5.0  # at most one read for unknown kids this often
JWKS_MAX_AGE = 300  # seconds others may cache /.well-known/jwks.json
# Longer than a reload plus the JWKS cache: every worker and verifier holds the key first.
ACTIVATION_DELAY = 600.0
_MARK = ".until-"
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
    legacy_retired: datetime | None = None  # when the folder records a legacy key


def _start(key: SigningKey) -> datetime:
    return key.activates_at or key.created_at or datetime.min.replace(tzinfo=UTC)


def _described(key: SigningKey, status: str, until: datetime | None, reason: str) -> KeyStatus:
    dates = (key.created_at, key.activates_at, key.retired_at)
    return KeyStatus(key.kid, key.algorithm, *dates, status, until, reason)


class KeySet:
    """The keys of one project, in memory, kept in step with their folder."""

    def __init__(
        self,
        clock: Clock,
        folder: Path | None,
        keys: list[SigningKey] | None = None,
        server_secret: bytes | None = None,
    ) -> None:
        """A set read from ``folder`` (see :func:`open_keys`), or made of ``keys`` (the
        environment's: the first signs). ``server_secret`` verifies the legacy tokens."""
        self._clock = clock
        self.folder = folder
        self._server_secret = server_secret
        # Whether the project may still accept the legacy key's tokens: only an old project
        # (see bastion.auth.derived), which the service learns at start from its database.
        self._legacy_admitted = False
        self._loaded = _Loaded({k.kid: k for k in keys or []}, {})
        self._order = [k.kid for k in keys or []]  # the environment's order
        self._read_at = self._now()
        self._unknown_read_at: float | None = None
        if folder is not None:
            self._loaded = self._read()

    def _now(self) -> float:
        return self._clock().timestamp()

    # -- reading the folder -------------------------------------------------------------

    def _read(self) -> _Loaded:
        """The keys of the folder now; a ProjectError when a file cannot be used."""
        assert self.folder is not None
        keys: dict[str | None, SigningKey] = {}
        until: dict[str, int] = {}
        legacy: datetime | None = None
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            names = []
        for name in names:
            if name.startswith("."):  # a file being written
                continue
            stem, mark, epoch = name.partition(_MARK)
            if mark and epoch.isdigit():
                until[stem] = max(until.get(stem, 0), int(epoch))
                continue
            path = self.folder / name
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # pruned meanwhile
                continue
            except OSError as error:
                raise ProjectError([f"{path}: cannot read it ({error.strerror})"]) from None
            if name == LEGACY_FILE:
                legacy = _legacy_retired(data, str(path))
                if self._server_secret is not None and self._legacy_admitted:
                    keys[None] = SigningKey(None, "HS256", self._server_secret, retired_at=legacy)
            elif name.endswith(".json"):
                key = read_key_file(data, str(path))
                if f"{key.kid}.json" != name:
                    raise ProjectError([f"{path}: the file name is not its kid ({key.kid})"])
                keys[key.kid] = key
        return _Loaded(keys, {kid: t for kid, t in until.items() if kid in keys}, legacy)

    def reload(self) -> None:
        """Read the folder again; on failure keep what was loaded (and log why)."""
        self._read_at = self._now()
        if self.folder is None:
            return
        try:
            loaded = self._read()
        except ProjectError as error:
            log.warning("signing keys: kept the loaded keys: %s", error)
            return
        if not any(kid is not None for kid in loaded.keys) and not self.empty:
            # Keys are never all pruned (the signing key stays): someone emptied the folder.
            log.warning("signing keys: %s holds no key; kept the loaded keys", self.folder)
            return
        self._loaded = loaded

    def admit_legacy(self, admitted: bool) -> None:
        """Let the legacy key (the server secret, when the folder records one) verify kid-less
        tokens, or not: a project that never signed any must not accept them."""
        self._legacy_admitted = admitted
        self.reload()

    def create(self, algorithm: SigningAlgorithm, legacy: bool = False) -> None:
        """Make the folder with a first key of ``algorithm`` when it holds none; with
        ``legacy`` (an old project, whose secret signed tokens before keys existed) the new
        folder also records that the secret keeps verifying them."""
        folder = self.folder
        if folder is None or not self.empty:
            return
        _make_folder(folder, algorithm, self._clock(), legacy)
        self.reload()
        if self.empty:  # a folder that existed with no key in it
            key = generate_key(algorithm, self._clock(), self._clock())
            write_private_file(folder / f"{key.kid}.json", key_file_bytes(key))
            self.reload()

    @property
    def empty(self) -> bool:
        """True when the set holds no key that can sign (a folder not made yet)."""
        return not any(kid is not None for kid in self._loaded.keys)

    def _fresh(self) -> _Loaded:
        # A clock that went back counts as due: a stale set must not outlive a clock change.
        if self.folder is not None and not 0 <= self._now() - self._read_at < RELOAD_INTERVAL:
            self.reload()
        return self._loaded

    # -- signing and verifying ----------------------------------------------------------

    def signing_key(self) -> SigningKey:
        """The key that signs now: the newest whose activation has come."""
        return self._signer(self._fresh(), self._clock())

    def _signer(self, loaded: _Loaded, now: datetime) -> SigningKey:
        if self.folder is None:
            return loaded.keys[self._order[0]]
        keys = [k for k in loaded.keys.values() if k.kid is not None]
        active = [k for k in keys if _start(k) <= now]
        if active:
            return max(active, key=lambda k: (_start(k), k.kid or ""))
        # Only keys dated ahead of this clock (a skewed clock): the earliest one.
        return min(keys, key=lambda k: (_start(k), k.kid or ""))

    def verifying_key(self, kid: str | None) -> SigningKey | None:
        """The key named by a token's kid (None: the legacy key), if the set holds it.

        The kid is only ever a key of the in-memory set: never a path, never a query.
        """
        key = self._fresh().keys.get(kid)
        if key is not None or kid is None or self.folder is None or not KID.fullmatch(kid):
            return key
        now = self._now()
        last = self._unknown_read_at
        if last is not None and 0 <= now - last < UNKNOWN_KID_RELOAD:
            return None
        # A key another process just made, perhaps: read the folder once, then no more for a
        # while, however many made-up kids arrive.
        self._unknown_read_at = now
        self.reload()
        return self._loaded.keys.get(kid)

    def holds(self, kid: str | None) -> bool:
        """Whether the set still holds the key ``kid`` (a pruned key's tokens are refused)."""
        return kid in self._fresh().keys

    def signed(self, key: SigningKey, expires_at: int) -> None:
        """Record that ``key`` signed a token expiring at ``expires_at`` (for pruning)."""
        if self.folder is None or key.kid is None:
            return
        mark = -(-expires_at // _MARK_STEP) * _MARK_STEP
        if mark <= self._loaded.until.get(key.kid, 0):
            return
        self._loaded.until[key.kid] = mark
        try:
            fd = os.open(self.folder / f"{key.kid}{_MARK}{mark}", os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
            for name in os.listdir(self.folder):
                stem, sep, epoch = name.partition(_MARK)
                if stem == key.kid and sep and epoch.isdigit() and int(epoch) < mark:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.folder / name)
        except OSError as error:
            # The token is still good: a signing failure would fail a login. What is lost is
            # only that prune may remove this key before the token expires.
            log.warning("signing keys: cannot record the expiry of %s: %s", key.kid, error)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys of every asymmetric key that verifies (pending ones included)."""
        keys = sorted(
            (k for k in self._fresh().keys.values() if k.kid is not None),
            key=lambda k: (_start(k), k.kid or ""),
            reverse=True,
        )
        return {"keys": [jwk for k in keys if (jwk := k.public_jwk()) is not None]}

    # -- managing the folder (the CLI) --------------------------------------------------

    def _folder(self) -> Path:
        if self.folder is None:
            raise KeysFromEnvironment()
        return self.folder

    def rotate(
        self, algorithm: SigningAlgorithm, activate_after: float = ACTIVATION_DELAY
    ) -> SigningKey:
        """Publish a new key that signs ``activate_after`` seconds from now; the keys that
        sign until then are dated retired at that moment."""
        folder = self._folder()
        self.reload()
        now = self._clock()
        key = generate_key(algorithm, now, now + timedelta(seconds=activate_after))
        write_private_file(folder / f"{key.kid}.json", key_file_bytes(key))
        for old in self._loaded.keys.values():
            if old.kid is not None and old.retired_at is None:
                retired = replace(old, retired_at=key.activates_at)
                path = folder / f"{old.kid}.json"
                write_private_file(path, key_file_bytes(retired), replace=True)
        self.reload()
        return key

    def statuses(self) -> list[KeyStatus]:
        """Every key with its status, newest first."""
        loaded, now = self._fresh(), self._clock()
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
        if self.folder is None:
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

    def prune(self, force: bool = False) -> PrunedKeys:
        """Remove the keys whose tokens have all expired (with ``force``: every key that no
        longer signs, and the legacy key). Never the signing key, never a pending one."""
        folder = self._folder()
        self.reload()
        removed: list[KeyStatus] = []
        kept: list[KeyStatus] = []
        for status in self.statuses():
            removable = status.status == "prunable" or (
                force and status.status == "verifying" and status.prunable_at is not None
            )
            if not removable:
                kept.append(status)
                continue
            name = LEGACY_FILE if status.kid is None else f"{status.kid}.json"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
            if status.kid is not None:
                for marker in os.listdir(folder):
                    if marker.startswith(f"{status.kid}{_MARK}"):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(folder / marker)
            removed.append(status)
        self.reload()
        return PrunedKeys(removed, kept)


def _legacy_retired(data: bytes, where: str) -> datetime:
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    found = document.get("retired") if isinstance(document, dict) else None
    retired = parse_time(found, where, "retired")
    if retired is None:
        raise ProjectError([f"{where}: not a legacy record (no retired time)"])
    return retired


def _legacy_record(retired: datetime) -> bytes:
    note = "the server secret verifies the kid-less HS256 tokens signed before keys existed"
    return json.dumps({"retired": retired.isoformat(), "note": note}, indent=2).encode() + b"\n"


def _make_folder(folder: Path, algorithm: SigningAlgorithm, now: datetime, legacy: bool) -> None:
    """Make the folder with its first key, whole or not at all.

    The key is written into a temporary folder renamed into place: when several processes
    start at once, one rename wins and the others find its key (they never sign with keys of
    their own).
    """
    make_private_folder(folder.parent)
    temp = folder.with_name(f".{folder.name}-{secrets.token_hex(4)}")
    temp.mkdir(mode=0o700)
    try:
        key = generate_key(algorithm, now, now)
        write_private_file(temp / f"{key.kid}.json", key_file_bytes(key))
        if legacy:
            write_private_file(temp / LEGACY_FILE, _legacy_record(now))
        os.rename(temp, folder)  # replaces only an empty folder
        sync_folder(folder.parent)
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def open_keys(
    data_dir: Path,
    algorithm: SigningAlgorithm,
    clock: Clock,
    server_secret: bytes | None = None,
    legacy: bool = False,
    create: bool = True,
) -> KeySet:
    """The signing keys of a project: from ``BASTION_SIGNING_KEYS``, else ``data_dir/keys``.

    Unless ``create`` is False, a missing folder is made at once (see :meth:`KeySet.create`,
    and ``legacy``). ``server_secret`` is what verifies the legacy key's tokens once
    :meth:`KeySet.admit_legacy` allows them (without it, they are refused: enough for a
    process that only signs).
    """
    from_env = os.environ.get(KEYS_ENV)
    if from_env is not None:
        return KeySet(clock, None, keys_from_jwks(from_env, KEYS_ENV))
    keys = KeySet(clock, data_dir / KEYS_DIR, server_secret=server_secret)
    if create:
        keys.create(algorithm, legacy)
    return keys
