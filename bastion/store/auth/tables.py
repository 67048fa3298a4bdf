"""Bastion's own tables, beside the model's: they share one MetaData.

Their names start with ``_bastion_`` so no model type can take them. Secrets are never stored
here in a usable form: passwords as argon2id hashes, refresh tokens, session tokens and API
keys as SHA-256 digests.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    UniqueConstraint,
)

from bastion.store.auth.factor_tables import add_factor_tables
from bastion.store.auth.openid_tables import add_openid_tables
from bastion.store.auth.passkey_tables import add_passkey_tables
from bastion.store.columns import UTCDateTime, text
from bastion.store.tables import ID_LENGTH, NAMING_CONVENTION

SYSTEM_PREFIX = "_bastion_"
"""Every table of Bastion's own starts with it (no model type name can)."""
META_TABLE = "_bastion_meta"
PASSWORD_TABLE = "_bastion_password"  # noqa: S105 - a table name
SESSION_TABLE = "_bastion_session"
REFRESH_TABLE = "_bastion_refresh_token"
IDENTITY_TABLE = "_bastion_identity"
API_KEY_TABLE = "_bastion_api_key"
ROOT_TOKEN_TABLE = "_bastion_root_token"  # noqa: S105 - a table name
LOGIN_FAILURE_TABLE = "_bastion_login_failure"
AUDIT_TABLE = "_bastion_audit"
EVENT_TABLE = "_bastion_event"
ATTEMPT_TABLE = "_bastion_attempt"
MAIL_OUTBOX_TABLE = "_bastion_mail_outbox"
EMAIL_TOKEN_TABLE = "_bastion_email_token"  # noqa: S105 - a table name
EMAIL_PENDING_TABLE = "_bastion_email_pending"
SIGNING_KEY_TABLE = "_bastion_signing_key"


def _user_key(name: str = "user_id") -> Column[str]:
    return Column(name, text(ID_LENGTH), ForeignKey("User.id", ondelete="CASCADE"), nullable=False)


def _meta_table(metadata: MetaData) -> None:
    # What Bastion remembers about this database, one text value per key: the model last
    # synced (bastion.store.sync), whether the seed ran, the project record of derived secrets.
    Table(
        META_TABLE,
        metadata,
        Column("key", text(100), primary_key=True),
        Column("value", text(), nullable=False),
    )


def _password_table(metadata: MetaData) -> None:
    # One argon2id hash per user that has a password; the user's id is the key.
    Table(
        PASSWORD_TABLE,
        metadata,
        Column(
            "user_id",
            text(ID_LENGTH),
            ForeignKey("User.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("hash", text(), nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )


def _session_tables(metadata: MetaData) -> None:
    # A session and the rotating refresh tokens of its GraphQL clients: one table each,
    # since a token belongs to one session and goes with it.
    Table(
        SESSION_TABLE,
        metadata,
        Column("id", text(ID_LENGTH), primary_key=True),
        _user_key(),
        Column("provider", text(50), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("last_used_at", UTCDateTime, nullable=False),
        # The absolute end of the session: no refresh or renewal goes past it.
        Column("expires_at", UTCDateTime, nullable=False),
        Column("revoked_at", UTCDateTime, nullable=True),
        Column("user_agent", text(), nullable=True),
        # The device the client SDK named (or one made for it), answered as `device_id`.
        Column("device_id", text(ID_LENGTH), nullable=True),
        # Sessions of the Stitch client API: the SHA-256 of their refresh token, which is a
        # session token there (used many times); GraphQL sessions rotate theirs instead.
        Column("token_hash", text(64), nullable=True),
        # The API key a session was opened with: ending the key ends the session.
        Column("credential_id", text(ID_LENGTH), nullable=True),
        # The custom-token provider's `user_data`, carried into every access token (JSON).
        Column("user_data", text(), nullable=True),
        # The second factor the session was opened with ("totp", "webauthn"), if any: what
        # rules read as `$viewer.mfa` and `auth.mfa.required` asks of a session.
        Column("factor", text(20), nullable=True),
        Index(f"ix_{SESSION_TABLE}_user_id", "user_id"),
        Index(f"ix_{SESSION_TABLE}_token_hash", "token_hash", unique=True),
        Index(f"ix_{SESSION_TABLE}_credential_id", "credential_id"),
    )
    Table(
        REFRESH_TABLE,
        metadata,
        Column("hash", text(64), primary_key=True),
        Column(
            "session_id",
            text(ID_LENGTH),
            ForeignKey(f"{SESSION_TABLE}.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Column("used_at", UTCDateTime, nullable=True),
        Index(f"ix_{REFRESH_TABLE}_session_id", "session_id"),
    )


def _identity_table(metadata: MetaData) -> None:
    Table(
        IDENTITY_TABLE,
        metadata,
        # A way to log in as a user, besides the password row: an anonymous login, a
        # custom-token subject, a server API key. One user may hold several (linking).
        Column("id", text(ID_LENGTH), primary_key=True),
        _user_key(),
        Column("provider", text(50), nullable=False),
        Column("subject", text(255), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("data", text(), nullable=True),  # the provider's last word on the user (JSON)
        UniqueConstraint("provider", "subject"),
        Index(f"ix_{IDENTITY_TABLE}_user_id", "user_id"),
    )


def _key_tables(metadata: MetaData) -> None:
    # The long-lived credentials: users' API keys and the project's root tokens.
    Table(
        API_KEY_TABLE,
        metadata,
        Column("id", text(ID_LENGTH), primary_key=True),
        _user_key(),
        Column("name", text(100), nullable=False),
        Column("hash", text(64), nullable=False, unique=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("last_used_at", UTCDateTime, nullable=True),
        Column("disabled", Boolean, nullable=False),
        UniqueConstraint("user_id", "name"),
    )
    Table(
        ROOT_TOKEN_TABLE,
        metadata,
        # The token is derived from the server secret, the name and the counter; only its
        # SHA-256 is here (see bastion.auth.root_tokens).
        Column("name", text(64), primary_key=True),
        Column("hash", text(64), nullable=False, unique=True),
        Column("counter", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("rotated_at", UTCDateTime, nullable=True),
        Column("last_used_at", UTCDateTime, nullable=True),
        Column("revoked_at", UTCDateTime, nullable=True),
    )


def _login_failure_table(metadata: MetaData) -> None:
    Table(
        LOGIN_FAILURE_TABLE,
        metadata,
        # SHA-256 of the account name tried (an email or username, existing or not): the
        # table never collects the strings attackers send.
        Column("account", text(64), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("last_failure_at", UTCDateTime, nullable=False),
        Column("locked_until", UTCDateTime, nullable=True),
    )


def _audit_table(metadata: MetaData) -> None:
    Table(
        AUDIT_TABLE,
        metadata,
        # Security events (bastion.auth.audit); no foreign key: events outlive their users.
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", UTCDateTime, nullable=False),
        Column("type", text(40), nullable=False, index=True),
        Column("security", Boolean, nullable=False),
        Column("user_id", text(ID_LENGTH), nullable=True, index=True),
        Column("provider", text(40), nullable=True),
        Column("ip", text(64), nullable=True),
        Column("user_agent", text(256), nullable=True),
        Column("session_id", text(64), nullable=True),
        Column("detail", text(), nullable=True),
    )


def _event_table(metadata: MetaData) -> None:
    Table(
        EVENT_TABLE,
        metadata,
        # What one process tells the others sharing a PostgreSQL database (bastion.auth.cluster):
        # written in the transaction of the change it tells, pruned after a few minutes.
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("at", UTCDateTime, nullable=False, index=True),
        Column("origin", text(32), nullable=False),
        Column("kind", text(40), nullable=False),
        Column("body", text(), nullable=False),
    )


def _attempt_table(metadata: MetaData) -> None:
    Table(
        ATTEMPT_TABLE,
        metadata,
        # Credential attempts per client IP, counted in the database when several processes
        # share a PostgreSQL one and no Redis is configured (bastion.auth.throttle).
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("key", text(100), nullable=False),
        Column("at", UTCDateTime, nullable=False),
        Index("ix__bastion_attempt_key_at", "key", "at"),
    )


def _mail_tables(metadata: MetaData) -> None:
    # Mails waiting to be sent (bastion.mail.outbox), written in the transaction of what they
    # tell: a token and the mail carrying it commit together, or neither does. A sent mail's
    # row is deleted; one that failed for good keeps its headers, its bodies blanked. A row
    # with a `request` is a mail still to be made by the sender (a reset asked for an address
    # that may have no account): the request path writes the same row either way.
    Table(
        MAIL_OUTBOX_TABLE,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("purpose", text(40), nullable=False),
        Column("recipient", text(320), nullable=False),
        Column("subject", text(), nullable=False),
        Column("text_body", text(), nullable=False),
        Column("html_body", text(), nullable=True),
        Column("request", text(), nullable=True),  # JSON: what the mail's maker needs
        Column("created_at", UTCDateTime, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
        # A sender working on the row: no other worker takes it until then.
        Column("claimed_until", UTCDateTime, nullable=True),
        Column("failed_at", UTCDateTime, nullable=True),
        Column("last_error", text(500), nullable=True),
    )
    # Tokens sent by mail (bastion.auth.email): only their SHA-256 (and that of the short code
    # of a login mail) is kept; each is bound to its purpose and to the address it was sent to.
    Table(
        EMAIL_TOKEN_TABLE,
        metadata,
        Column("id", text(ID_LENGTH), primary_key=True),  # the public `tokenId`
        Column("purpose", text(20), nullable=False),
        Column("email", text(320), nullable=False),
        Column("user_id", text(ID_LENGTH), ForeignKey("User.id", ondelete="CASCADE")),
        Column("token_hash", text(64), nullable=False, unique=True),
        Column("code_hash", text(64), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("expires_at", UTCDateTime, nullable=False),
        Column("used_at", UTCDateTime, nullable=True),
        Column("attempts", Integer, nullable=False),
        Index(f"ix_{EMAIL_TOKEN_TABLE}_email_purpose", "email", "purpose"),
    )
    # Users whose address awaits confirmation: a row here, none once confirmed, so that users
    # made before confirmations existed (or with them off) count as confirmed.
    Table(
        EMAIL_PENDING_TABLE,
        metadata,
        Column(
            "user_id",
            text(ID_LENGTH),
            ForeignKey("User.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("created_at", UTCDateTime, nullable=False),
    )


def _signing_key_table(metadata: MetaData) -> None:
    Table(
        SIGNING_KEY_TABLE,
        metadata,
        # The keys that sign access tokens (bastion.auth.key_store): every node reads the same
        # set. The private key is sealed (AES-GCM under a key derived from the server secret,
        # bound to the kid); the rest is public or says when the key may be pruned.
        Column("kid", text(64), primary_key=True),
        Column("algorithm", text(10), nullable=False),
        Column("created_at", UTCDateTime, nullable=True),
        Column("activates_at", UTCDateTime, nullable=True),
        Column("retired_at", UTCDateTime, nullable=True),
        # The latest expiry of a token it signed, rounded up to the hour; only ever raised.
        Column("signed_until", UTCDateTime, nullable=True),
        Column("sealed_key", LargeBinary, nullable=False),
    )


def new_metadata() -> MetaData:
    """An empty MetaData with Bastion's naming convention and its system tables."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # The order in which `metadata.tables` has always listed them.
    for add_tables in (
        _meta_table,
        _password_table,
        _session_tables,
        _identity_table,
        _key_tables,
        _login_failure_table,
        _audit_table,
        _event_table,
        _attempt_table,
        _mail_tables,
        add_factor_tables,
        add_openid_tables,
        add_passkey_tables,
        _signing_key_table,
    ):
        add_tables(metadata)
    return metadata
