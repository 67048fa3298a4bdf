"""The authentication services of one project, built once at start."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.auth.access_tokens import AccessTokens
from bastion.auth.accounts import Accounts
from bastion.auth.audit import Audit
from bastion.auth.authenticate import Authenticator
from bastion.auth.cluster import EventLog
from bastion.auth.derived import DerivedSecrets
from bastion.auth.email import EmailFlows
from bastion.auth.email.tokens import EmailTokens
from bastion.auth.factors.assembly import second_factors_for
from bastion.auth.factors.gate import SecondFactors
from bastion.auth.identities import Identities
from bastion.auth.key_folder import KEYS_DIR
from bastion.auth.key_store import PURPOSE as SEALED_KEYS
from bastion.auth.key_store import KeyStore
from bastion.auth.keys import KeySet, open_keys
from bastion.auth.logins import Logins
from bastion.auth.node_tokens import NodeTokens
from bastion.auth.passwords import Passwords
from bastion.auth.project_view import AuthProject
from bastion.auth.providers.api_keys import ApiKeys
from bastion.auth.root_tokens import RootTokens
from bastion.auth.sealing import Sealer
from bastion.auth.secret import check_secret, load_secret
from bastion.auth.session_tokens import SessionTokens
from bastion.auth.sessions import Sessions
from bastion.auth.settings import AuthConfig
from bastion.auth.throttle import Throttle
from bastion.mail import MailConfig, Outbox
from bastion.mail.templates import MailTemplates
from bastion.mail.transports import Transport
from bastion.store import Store
from bastion.store.auth.attempts import AttemptRows
from bastion.store.auth.audit import AuditRows
from bastion.store.auth.email_tokens import EmailTokenRows, PendingRows
from bastion.store.auth.mail_outbox import OutboxRows
from bastion.store.auth.meta import Evidence, MetaRows
from bastion.store.auth.signing_keys import SigningKeyRows
from bastion.store.auth.tables import (
    API_KEY_TABLE,
    ATTEMPT_TABLE,
    AUDIT_TABLE,
    EMAIL_PENDING_TABLE,
    EMAIL_TOKEN_TABLE,
    EVENT_TABLE,
    IDENTITY_TABLE,
    LOGIN_FAILURE_TABLE,
    MAIL_OUTBOX_TABLE,
    META_TABLE,
    PASSWORD_TABLE,
    REFRESH_TABLE,
    ROOT_TOKEN_TABLE,
    SESSION_TABLE,
    SIGNING_KEY_TABLE,
)
from bastion.tools.clock import Clock
from bastion.tools.events import EventHub

if TYPE_CHECKING:  # imported when the provider is on: it makes an HTTP client
    from bastion.auth.openid.signin import OpenIdSignIn
    from bastion.auth.providers.custom_token import CustomTokenVerifier

log = logging.getLogger("bastion.auth")


@dataclass(frozen=True)
class AuthServices:
    """Accounts, sessions, tokens, the providers and the request authenticator."""

    config: AuthConfig
    keys: KeySet
    accounts: Accounts
    sessions: Sessions
    tokens: AccessTokens
    authenticator: Authenticator
    identities: Identities
    api_keys: ApiKeys
    session_tokens: SessionTokens
    logins: Logins
    custom_tokens: CustomTokenVerifier | None
    root_tokens: RootTokens
    throttle: Throttle
    audit: Audit
    derived: DerivedSecrets
    factors: SecondFactors
    # Where what the floor's state depends on is announced (bastion.auth.events).
    events: EventHub
    # Where the changes other processes must hear of are written (bastion.auth.cluster).
    event_log: EventLog
    # Confirmations, resets, login codes and address changes by mail (bastion.auth.email).
    email: EmailFlows
    # Tables whose rows show that the project was served before its derivation record.
    evidence: Evidence = field(default_factory=Evidence)
    # The OpenID Connect providers (auth.providers.openid), when any is configured.
    openid: OpenIdSignIn | None = None

    async def start(self) -> None:
        """Once the database is synced: read (or make) the project's derivation record, load
        the signing keys (made or imported on the first start), and warn about what an old
        project still accepts."""
        record = await self.derived.load(self.evidence)
        algorithm = self.config.signing.algorithm
        await self.keys.start(algorithm, legacy=record.legacy)
        _note_algorithm(self.keys, algorithm)
        unbound = await self.root_tokens.unbound_names()
        if unbound:
            log.warning(
                "root tokens %s were derived from the server secret without this project: "
                "any project sharing the secret accepts them; rotate each with "
                "`bastion root-token rotate NAME`",
                ", ".join(unbound),
            )

    @property
    def node_tokens(self) -> NodeTokens:
        """Issue tokens bound to nodes (for functions and the CLI)."""
        assert self.authenticator.node_tokens is not None  # build_auth always gives them
        return self.authenticator.node_tokens

    async def close(self) -> None:
        """Release what the providers hold open (the JWKS client), stop the mail sender, and
        record what the keys signed."""
        await self.keys.settle()
        await self.email.outbox.stop()
        if self.custom_tokens is not None:
            await self.custom_tokens.aclose()
        if self.openid is not None:
            await self.openid.aclose()


def key_store_for(
    project: AuthProject,
    store: Store,
    derived: DerivedSecrets,
    event_log: EventLog,
    clock: Clock,
) -> KeyStore:
    """Where the signing keys of ``project`` live: its database, sealed with its secret."""
    tables = store.tables.metadata.tables
    return KeyStore(
        store.db,
        SigningKeyRows(tables[SIGNING_KEY_TABLE]),
        MetaRows(tables[META_TABLE]),
        Sealer(derived, SEALED_KEYS),
        event_log,
        clock,
        project.data_dir / KEYS_DIR,
    )


def _note_algorithm(keys: KeySet, algorithm: str) -> None:
    current = keys.signing_key().algorithm
    if current != algorithm and keys.store is not None:
        log.info(
            "auth.signing.algorithm is %s; the signing key is %s until `bastion keys rotate`",
            algorithm,
            current,
        )


def access_tokens_for(project: AuthProject, keys: KeySet, clock: Clock) -> AccessTokens:
    """The access tokens of ``project``, signed with ``keys``."""
    config = project.config.auth
    return AccessTokens(
        keys,
        issuer=config.issuer or f"bastion:{project.config.app_id}",
        audience=project.config.app_id,
        lifetime=config.access_token_lifetime,
        clock=clock,
    )


def outbox_for(
    config: MailConfig,
    store: Store,
    clock: Clock,
    transport: Transport | None = None,
    templates: Path | None = None,
) -> Outbox:
    """The mail outbox of a project: ``transport`` delivers (None: mail is off), the
    templates of the folder ``templates`` override the shipped ones."""
    rows = OutboxRows(store.tables.metadata.tables[MAIL_OUTBOX_TABLE])
    shipped = MailTemplates(templates, config.default_locale)
    return Outbox(config, store.db, rows, shipped, transport, clock)


def build_auth(
    project: AuthProject,
    store: Store,
    clock: Clock,
    secret: bytes | None = None,
    *,
    events: EventHub,
    outbox: Outbox | None = None,
) -> AuthServices:
    """Wire the services of ``project``; the secret is loaded (or made) unless given.

    Sessions announce their revocations on ``events``, to which the caller subscribes the
    session-state cache. :meth:`AuthServices.start` must run once the database is synced.
    ``outbox`` sends the mails of the email flows (see :func:`outbox_for`); without one they
    answer MAIL_NOT_CONFIGURED.
    """
    config = project.config.auth
    # An injected secret gets the same length check as one from the environment or the file.
    key = (
        check_secret(secret, "the injected secret")
        if secret is not None
        else load_secret(project.data_dir)
    )
    tables = store.tables.metadata.tables
    audit = Audit(store.db, AuditRows(tables[AUDIT_TABLE]), clock)
    meta = MetaRows(tables[META_TABLE])
    derived = DerivedSecrets(key, project.config.app_id, store.db, meta, clock)
    # Several processes share a PostgreSQL database: what one changes, the others hear of.
    event_log = EventLog.over(store.db, tables[EVENT_TABLE], clock)
    keys = open_keys(key_store_for(project, store, derived, event_log, clock), clock, key)
    tokens = access_tokens_for(project, keys, clock)
    sessions = Sessions(
        store.db,
        {
            "session": tables[SESSION_TABLE],
            "refresh": tables[REFRESH_TABLE],
            "user": store.tables["User"],
            "audit": tables[AUDIT_TABLE],
        },
        tokens,
        config,
        clock,
        derived,
        audit,
        events,
        event_log,
    )
    accounts = Accounts(
        store,
        tables[PASSWORD_TABLE],
        Passwords(config.password_hash),
        clock,
        config.providers.local_userpass.min_password_length,
        (project.config.name, project.config.app_id),
    )
    identities = Identities(tables[IDENTITY_TABLE], tables[PASSWORD_TABLE], clock)
    api_keys = ApiKeys(
        tables[API_KEY_TABLE],
        store,
        identities,
        sessions,
        clock,
        config.providers.api_key.max_keys_per_user,
    )
    custom = config.providers.custom_token
    custom_tokens = user_fields = None
    if custom.enabled:
        from bastion.auth.providers.custom_token import CustomTokenVerifier
        from bastion.auth.providers.user_fields import UserFields

        custom_tokens = CustomTokenVerifier(custom, project.root, clock)
        user_fields = UserFields(project.model, custom.metadata_fields, store.emails)
    root_tokens = RootTokens(store.db, tables[ROOT_TOKEN_TABLE], derived, clock, audit, event_log)
    # Per-IP counts held in memory would let N nodes allow N times the limit: on PostgreSQL,
    # unless Redis holds them, the database does.
    shared_attempts = not store.db.is_sqlite and config.throttle.storage.startswith("async+memory")
    throttle = Throttle(
        config.throttle,
        store.db,
        tables[LOGIN_FAILURE_TABLE],
        clock,
        audit,
        AttemptRows(tables[ATTEMPT_TABLE]) if shared_attempts else None,
    )
    factors = second_factors_for(project, store, derived, clock, throttle)
    logins = Logins(
        config.providers,
        store,
        accounts,
        identities,
        api_keys,
        sessions,
        custom_tokens,
        throttle,
        audit,
        user_fields,
        factors,
    )
    if outbox is None:
        outbox = outbox_for(MailConfig(), store, clock)
    email = EmailFlows(
        app_name=project.config.name,
        providers=config.providers,
        store=store,
        accounts=accounts,
        identities=identities,
        logins=logins,
        sessions=sessions,
        throttle=throttle,
        audit=audit,
        outbox=outbox,
        tokens=EmailTokens(EmailTokenRows(tables[EMAIL_TOKEN_TABLE]), clock),
        pending=PendingRows(tables[EMAIL_PENDING_TABLE]),
        events=events,
        event_log=event_log,
        clock=clock,
    )
    if config.providers.local_userpass.confirmation == "required":
        logins.confirmation_gate = email.gate
    openid = None
    if config.providers.openid:
        from bastion.auth.openid.assembly import openid_for

        openid = openid_for(project, store, logins, accounts, identities, throttle, clock)
    return AuthServices(
        config=config,
        keys=keys,
        accounts=accounts,
        sessions=sessions,
        tokens=tokens,
        authenticator=Authenticator(
            tokens, sessions, clock, root_tokens, NodeTokens(tokens, project.model, store)
        ),
        identities=identities,
        api_keys=api_keys,
        session_tokens=SessionTokens(store.db, sessions, clock),
        logins=logins,
        custom_tokens=custom_tokens,
        root_tokens=root_tokens,
        throttle=throttle,
        audit=audit,
        derived=derived,
        factors=factors,
        events=events,
        event_log=event_log,
        email=email,
        evidence=Evidence(
            (
                tables[SESSION_TABLE],
                tables[ROOT_TOKEN_TABLE],
                *(store.tables[name] for name in sorted(store.tables.by_type)),
            )
        ),
        openid=openid,
    )
