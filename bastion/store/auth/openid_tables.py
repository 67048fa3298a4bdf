"""The tables of OpenID Connect sign-in: browser flows in progress, one-time codes, and the
nonces of ID tokens already used.

Each row lives minutes and is taken once (deleted as it is used). Rows are found by the
SHA-256 of their random key, never by the key itself.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text

from bastion.store.columns import UTCDateTime

OPENID_FLOW_TABLE = "_bastion_openid_flow"
OPENID_CODE_TABLE = "_bastion_openid_code"
OPENID_USED_TABLE = "_bastion_openid_used"


def add_openid_tables(metadata: MetaData) -> None:
    """Add the OpenID sign-in tables to ``metadata``."""
    Table(
        OPENID_FLOW_TABLE,
        metadata,
        # A browser sent to the provider: found again by the `state` it comes back with.
        Column("state_digest", String(64), primary_key=True),
        Column("provider", String(50), nullable=False),
        Column("browser_digest", String(64), nullable=False),  # its cookie's SHA-256
        Column("nonce", String(100), nullable=False),
        Column("verifier", String(200), nullable=False),  # PKCE toward the provider
        Column("redirect_url", Text, nullable=False),
        Column("app_challenge", String(100), nullable=False),  # PKCE toward the app
        Column("callback_url", Text, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_FLOW_TABLE}_expires_at", "expires_at"),
    )
    Table(
        OPENID_CODE_TABLE,
        metadata,
        # A verified identity waiting for the app to exchange its one-time code.
        Column("digest", String(64), primary_key=True),
        Column("provider", String(50), nullable=False),
        Column("identity", Text, nullable=False),  # JSON: subject and claims
        Column("app_challenge", String(100), nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_CODE_TABLE}_expires_at", "expires_at"),
    )
    Table(
        OPENID_USED_TABLE,
        metadata,
        # The nonce of an ID token given to loginOpenId: a token is taken once.
        Column("digest", String(64), primary_key=True),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_USED_TABLE}_expires_at", "expires_at"),
    )
