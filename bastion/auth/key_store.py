"""The signing keys' home: the ``_bastion_signing_key`` table, the same for every node.

Every process serving a project reads its keys from the database, so nodes on several
machines sharing one PostgreSQL database publish one JWKS and accept each other's tokens. A
private key is stored sealed (:class:`bastion.auth.sealing.Sealer`, AES-256-GCM under a key
derived from the server secret for this project, the kid as associated data): a copy of the
database alone signs nothing, and a sealed key moved to another kid does not open.

The first start of a project makes its first key, or imports the key folder of an earlier
version (:mod:`bastion.auth.key_folder`), once: a row of ``_bastion_meta`` written in the same
transaction says it was done, so two nodes starting at once make (or import) one set, never
two. The folder is not read after that, and not deleted: every start warns while it still
holds a private key.

Every change (a rotation, a prune, the first keys) writes its rows and a
:class:`~bastion.auth.events.KeysChanged` event in one transaction: the other nodes hear of it
(:mod:`bastion.auth.cluster`) and read the keys again at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bastion.auth.cluster import EventLog
from bastion.auth.events import KeysChanged
from bastion.auth.key_folder import holds_private_keys, read_folder
from bastion.auth.key_material import (
    SigningKey,
    generate_key,
    material_from_bytes,
    private_bytes,
)
from bastion.auth.sealing import Sealer
from bastion.auth.settings import SigningAlgorithm
from bastion.errors import BastionError, Code
from bastion.store.auth.meta import KeyTaken, MetaRows
from bastion.store.auth.signing_keys import KeyRow, SigningKeyRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

PURPOSE = "signing-key"
"""The derivation purpose of the key that seals the private keys."""
MADE_KEY = "signing_keys"
"""Its row in ``_bastion_meta``: the first keys were made (or imported) then."""
LEGACY_KEY = "signing_legacy"
"""Its row in ``_bastion_meta``: the legacy key (the server secret) retired then."""

log = logging.getLogger("bastion.auth")


class KeysUnreadable(BastionError):
    """A stored key does not open with this server secret: the server must not start."""

    code = Code.SERVER_SECRET_MISMATCH

    def __init__(self, kid: str) -> None:
        super().__init__(
            f"{Code.SERVER_SECRET_MISMATCH}: the signing key {kid} in the database does not "
            "open with this server secret (BASTION_SECRET or .bastion/secret) and app id; "
            "start with the secret that sealed it, or re-seal the keys with "
            "`bastion keys reencrypt --old-secret-env VAR`"
        )


@dataclass(frozen=True)
class StoredKeys:
    """The keys as the database holds them now."""

    keys: list[SigningKey]
    until: dict[str, int]  # kid -> the latest expiry it signed (epoch seconds)
    legacy_retired: datetime | None


class KeyStore:
    """Reads and changes the signing keys of one project in its database."""

    def __init__(
        self,
        db: Database,
        rows: SigningKeyRows,
        meta: MetaRows,
        sealer: Sealer,
        event_log: EventLog,
        clock: Clock,
        folder: Path,
    ) -> None:
        """``folder``: the key folder of earlier versions, imported on the first start."""
        self._db = db
        self._rows = rows
        self._meta = meta
        self._sealer = sealer
        self._event_log = event_log
        self._clock = clock
        self.folder = folder

    # -- reading ------------------------------------------------------------------------

    async def load(self) -> StoredKeys:
        """The stored keys, opened; :class:`KeysUnreadable` when one does not open."""
        async with self._db.read() as conn:
            rows = await self._rows.all(conn)
            legacy = await self._meta.get(conn, LEGACY_KEY)
        keys = [self._opened(row, self._sealer) for row in rows]
        until = {r.kid: int(r.signed_until.timestamp()) for r in rows if r.signed_until}
        return StoredKeys(keys, until, datetime.fromisoformat(legacy) if legacy else None)

    def _opened(self, row: KeyRow, sealer: Sealer) -> SigningKey:
        data = sealer.open(row.kid, row.sealed_key)
        if data is None:
            raise KeysUnreadable(row.kid)
        algorithm, material = material_from_bytes(row.algorithm, data, f"signing key {row.kid}")
        return SigningKey(
            row.kid,
            algorithm,
            material,
            row.created_at,
            row.activates_at,
            row.retired_at,
        )

    def _row(self, key: SigningKey, signed_until: int | None = None) -> KeyRow:
        assert key.kid is not None, "the legacy key is a record, not a row"
        until = datetime.fromtimestamp(signed_until, UTC) if signed_until else None
        return KeyRow(
            key.kid,
            key.algorithm,
            key.created_at,
            key.activates_at,
            key.retired_at,
            until,
            self._sealer.seal(key.kid, private_bytes(key)),
        )

    # -- the first start ----------------------------------------------------------------

    async def ensure(self, algorithm: SigningAlgorithm, legacy: bool) -> None:
        """Make the project's first key, or import the folder's keys, unless done before.

        ``legacy``: the project signed kid-less tokens with its server secret before keys
        existed (see :mod:`bastion.auth.derived`); with no folder to import, the new set
        records that the secret keeps verifying them.
        """
        for _ in range(3):  # on PostgreSQL, a node starting at the same time may write first
            try:
                imported = await self._make_once(algorithm, legacy)
            except KeyTaken:
                continue
            if imported:
                log.info(
                    "signing keys: imported %s from %s into the database; the folder is no "
                    "longer read",
                    ", ".join(imported),
                    self.folder,
                )
            if holds_private_keys(self.folder):
                # Said at every start until done: the database holds these keys sealed, and
                # the folder is a copy of them in clear that nothing reads any more.
                log.warning(
                    "signing keys: %s still holds private keys in clear, and is no longer "
                    "read (the database has them, sealed): delete it",
                    self.folder,
                )
            return
        raise BastionError("signing keys: could not make the first key (the database raced)")

    async def _make_once(self, algorithm: SigningAlgorithm, legacy: bool) -> list[str]:
        async with self._db.write() as conn:
            if await self._meta.get(conn, MADE_KEY) is not None:
                return []
            now = self._clock()
            found = read_folder(self.folder)
            keys = found.keys or [generate_key(algorithm, now, now)]
            retired = found.legacy_retired if found.keys else (now if legacy else None)
            for key in keys:
                await self._rows.add(conn, self._row(key, found.until.get(key.kid or "")))
            if retired is not None:
                await self._meta.add(conn, LEGACY_KEY, retired.isoformat())
            imported = [key.kid or "" for key in found.keys]
            record = {"at": now.isoformat(), "imported": imported}
            await self._meta.add(conn, MADE_KEY, json.dumps(record, sort_keys=True))
            await self._event_log.record(conn, KeysChanged())
            return imported

    # -- changes ------------------------------------------------------------------------

    async def publish(self, key: SigningKey) -> None:
        """Store ``key`` and date every key without a retirement retired at its activation,
        in one transaction with the event that makes every node read the set again."""
        assert key.kid is not None and key.activates_at is not None
        async with self._db.write() as conn:
            await self._rows.add(conn, self._row(key))
            await self._rows.retire_others(conn, key.kid, key.activates_at)
            await self._event_log.record(conn, KeysChanged())

    async def remove(self, kids: Iterable[str], legacy: bool) -> None:
        """Delete the keys ``kids`` (and, with ``legacy``, the legacy key), with the event."""
        async with self._db.write() as conn:
            await self._rows.remove(conn, kids)
            if legacy:
                await self._meta.remove(conn, LEGACY_KEY)
            await self._event_log.record(conn, KeysChanged())

    async def record_signed(self, marks: dict[str, int]) -> None:
        """Raise the recorded latest expiry of each kid to its mark (epoch seconds)."""
        async with self._db.write() as conn:
            for kid, mark in sorted(marks.items()):
                await self._rows.raise_signed_until(conn, kid, datetime.fromtimestamp(mark, UTC))

    async def reseal(self, old: Sealer) -> list[str]:
        """Seal again with this store's sealer every key that opens with ``old`` (the
        previous server secret's); the kids resealed. Keys that open already are left as
        they are; one that opens with neither stops it, nothing changed."""
        resealed: list[str] = []
        async with self._db.write() as conn:
            for row in await self._rows.all(conn):
                if self._sealer.open(row.kid, row.sealed_key) is not None:
                    continue
                key = self._opened(row, old)
                await self._rows.reseal(conn, row.kid, self._row(key).sealed_key)
                resealed.append(row.kid)
        return resealed
