"""The tables of second factors: TOTP secrets and recovery codes.

Apart from :mod:`bastion.store.auth.tables` because they belong to one feature (sign-in
methods, ``docs/signin/``); :func:`bastion.store.auth.tables.new_metadata` adds them. Nothing
here is usable as stored: a TOTP secret is encrypted with a key derived from the server
secret (:mod:`bastion.auth.sealing`), a recovery code kept as a keyed digest.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
)

from bastion.store.columns import UTCDateTime, text
from bastion.store.tables import ID_LENGTH

TOTP_TABLE = "_bastion_totp"
RECOVERY_CODE_TABLE = "_bastion_recovery_code"


def _user_column(primary: bool = False) -> Column[str]:
    return Column(
        "user_id",
        text(ID_LENGTH),
        ForeignKey("User.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary,
    )


def add_factor_tables(metadata: MetaData) -> None:
    """Add the second-factor tables to ``metadata``."""
    Table(
        TOTP_TABLE,
        metadata,
        # One authenticator app per user; enrolled (a secret) before it is confirmed (a code).
        _user_column(primary=True),
        Column("sealed_secret", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("confirmed_at", UTCDateTime, nullable=True),
        # The last time step whose code was accepted: a code is never taken twice.
        Column("last_step", Integer, nullable=True),
    )
    Table(
        RECOVERY_CODE_TABLE,
        metadata,
        Column("digest", text(64), primary_key=True),
        _user_column(),
        Column("created_at", UTCDateTime, nullable=False),
        Index(f"ix_{RECOVERY_CODE_TABLE}_user_id", "user_id"),
    )
