"""The tables of OpenID Connect sign-in: browser flows in progress, one-time codes, and the
nonces of ID tokens already used.

Each row lives minutes and is taken once (deleted as it is used). Rows are found by the
SHA-256 of their random key, never by the key itself.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, Table

from bastion.store.columns import UTCDateTime, text

OPENID_FLOW_TABLE = "_bastion_openid_flow"
OPENID_CODE_TABLE = "_bastion_openid_code"
OPENID_USED_TABLE = "_bastion_openid_used"


def add_openid_tables(metadata: MetaData) -> None:
    """Add the OpenID sign-in tables to ``metadata``."""
    Table(
        OPENID_FLOW_TABLE,
        metadata,
        # A browser sent to the provider: found again by the `state` it comes back with.
        Column("state_digest", text(64), primary_key=True),
        Column("provider", text(50), nullable=False),
        Column("browser_digest", text(64), nullable=False),  # its cookie's SHA-256
        Column("nonce", text(100), nullable=False),
        Column("verifier", text(200), nullable=False),  # PKCE toward the provider
        Column("redirect_url", text(), nullable=False),
        Column("app_challenge", text(100), nullable=False),  # PKCE toward the app
        Column("callback_url", text(), nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_FLOW_TABLE}_expires_at", "expires_at"),
    )
    Table(
        OPENID_CODE_TABLE,
        metadata,
        # A verified identity waiting for the app to exchange its one-time code.
        Column("digest", text(64), primary_key=True),
        Column("provider", text(50), nullable=False),
        Column("identity", text(), nullable=False),  # JSON: subject and claims
        Column("app_challenge", text(100), nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_CODE_TABLE}_expires_at", "expires_at"),
    )
    Table(
        OPENID_USED_TABLE,
        metadata,
        # The nonce of an ID token given to loginOpenId: a token is taken once.
        Column("digest", text(64), primary_key=True),
        Column("expires_at", UTCDateTime, nullable=False),
        Index(f"ix_{OPENID_USED_TABLE}_expires_at", "expires_at"),
    )
