"""Values derived from the server secret, bound to one project.

Several projects may share ``BASTION_SECRET`` (staging and production often do), so nothing
Bastion derives from it may depend on the secret alone: a root token of staging would open
production. Every derivation therefore goes through a key made with HKDF-SHA256 (RFC 5869)
from the secret, the project's salt (32 random bytes made at its first start and kept in its
database) and, as HKDF's info, the app id and the purpose (``root-token``, ``refresh``...).
Two projects never share a salt, so they never share a derived value, whatever their secret
and app id; two purposes never share a key.

The record that holds the salt also tells whether the project is older than this rule
(:attr:`ProjectRecord.legacy`): true when, at the moment the record was first made, the
database already held data (sessions, root tokens, rows of the model). Nothing writes such
data before the record exists (every start makes the record before serving, seeding or
making tokens), so a project created by this version is never taken for an old one, whatever
its secret. Only an old project still accepts what was derived the old way: its root tokens
until rotated, and the kid-less tokens its secret signed before signing keys existed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.errors import ProjectError
from bastion.store.auth.meta import Evidence, KeyTaken, MetaRows
from bastion.store.database import Database
from bastion.tools.clock import Clock

RECORD_KEY = "auth_project"  # its row in _bastion_meta
SALT_BYTES = 32
_INFO = b"bastion derived key v2"


@dataclass(frozen=True)
class ProjectRecord:
    """What the database keeps about the project's derivations."""

    salt: bytes = b""
    created_at: str = ""  # ISO 8601, when this version first started the project
    legacy: bool = False  # the project held data before (see the module's docstring)


def _encoded(record: ProjectRecord) -> str:
    return json.dumps(
        {"salt": record.salt.hex(), "created": record.created_at, "legacy": record.legacy},
        sort_keys=True,
    )


def _decoded(value: str) -> ProjectRecord:
    try:
        data = json.loads(value)
        salt = bytes.fromhex(data["salt"])
        record = ProjectRecord(salt, str(data["created"]), data["legacy"] is True)
    except (ValueError, KeyError, TypeError):
        record = ProjectRecord()
    if len(record.salt) != SALT_BYTES:
        # Never make a new salt over a damaged one: every root token would change silently.
        raise ProjectError([f"_bastion_meta.{RECORD_KEY}: not a project record; restore it"])
    return record


class DerivedSecrets:
    """The project's derivations from the server secret (usable once :meth:`load` ran)."""

    def __init__(
        self, secret: bytes, app_id: str, db: Database, meta: MetaRows, clock: Clock
    ) -> None:
        self._secret = secret
        self._app_id = app_id
        self._db = db
        self._meta = meta
        self._clock = clock
        self._record: ProjectRecord | None = None
        self._keys: dict[str, bytes] = {}

    @property
    def record(self) -> ProjectRecord:
        """The project's record; :meth:`load` must have run."""
        if self._record is None:
            raise RuntimeError("DerivedSecrets.load() has not run: start the service first")
        return self._record

    async def load(self, evidence: Evidence) -> ProjectRecord:
        """Read the project's record, making it on the first start.

        ``evidence`` are the tables whose rows show that the project was served before this
        version (its record then says ``legacy``).
        """
        for _ in range(3):  # on PostgreSQL, a concurrent first start may insert first
            try:
                self._record = await self._read_or_make(evidence)
                break
            except KeyTaken:
                continue
        self._keys.clear()
        return self.record

    async def read(self) -> ProjectRecord | None:
        """Read the project's record without making one: None before the first start (a
        process that only reads, such as a script signing node tokens)."""
        async with self._db.read() as conn:
            found = await self._meta.get(conn, RECORD_KEY)
        if found is None:
            return None
        self._record = _decoded(found)
        self._keys.clear()
        return self._record

    async def _read_or_make(self, evidence: Evidence) -> ProjectRecord:
        async with self._db.write() as conn:
            found = await self._meta.get(conn, RECORD_KEY)
            if found is not None:
                return _decoded(found)
            legacy = await evidence.found(conn)
            now: datetime = self._clock()
            record = ProjectRecord(secrets.token_bytes(SALT_BYTES), now.isoformat(), legacy)
            await self._meta.add(conn, RECORD_KEY, _encoded(record))
            return record

    def _key(self, purpose: str) -> bytes:
        key = self._keys.get(purpose)
        if key is None:
            info = b"\0".join((_INFO, self._app_id.encode(), purpose.encode()))
            hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=self.record.salt, info=info)
            key = self._keys[purpose] = hkdf.derive(self._secret)
        return key

    def derive(self, purpose: str, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under the project's key for ``purpose``."""
        return hmac.new(self._key(purpose), message, hashlib.sha256).digest()

    def unbound(self, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under the bare secret: how values were derived before
        they were bound to the project. Only to recognise what an old project made then."""
        return hmac.new(self._secret, message, hashlib.sha256).digest()
