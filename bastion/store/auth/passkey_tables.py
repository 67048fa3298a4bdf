"""The tables of passkeys (WebAuthn credentials) and of their ceremonies' challenges."""

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

PASSKEY_TABLE = "_bastion_passkey"
WEBAUTHN_CHALLENGE_TABLE = "_bastion_webauthn_challenge"


def add_passkey_tables(metadata: MetaData) -> None:
    """Add the passkey tables to ``metadata``."""
    Table(
        PASSKEY_TABLE,
        metadata,
        # The credential id (base64url) the authenticator chose; its public key: no secret.
        Column("id", text(1400), primary_key=True),
        Column(
            "user_id", text(ID_LENGTH), ForeignKey("User.id", ondelete="CASCADE"), nullable=False
        ),
        Column("name", text(100), nullable=False),
        Column("public_key", LargeBinary, nullable=False),
        Column("sign_count", Integer, nullable=False),
        Column("transports", text(), nullable=True),  # JSON list, handed back as hints
        Column("created_at", UTCDateTime, nullable=False),
        Column("last_used_at", UTCDateTime, nullable=True),
        Index(f"ix_{PASSKEY_TABLE}_user_id", "user_id"),
    )
    Table(
        WEBAUTHN_CHALLENGE_TABLE,
        metadata,
        # A challenge handed to a browser, found by its digest when the answer comes; once.
        Column("digest", text(64), primary_key=True),
        Column("purpose", text(20), nullable=False),  # register, login, mfa
        Column("user_id", text(ID_LENGTH), nullable=True),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{WEBAUTHN_CHALLENGE_TABLE}_expires_at", "expires_at"),
    )
