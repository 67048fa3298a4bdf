"""Logging in with each provider, and linking a provider's identity to a user.

The GraphQL fields and the Stitch client routes both come here, so a provider has one set of
rules whatever the door: a credential is checked before any write (a refused token, key or
password creates nothing), and a login ends in one write transaction that makes the user if
needed and starts the session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bastion.auth.accounts import Accounts, InvalidCredentials, NewUser
from bastion.auth.audit import Audit, AuditEvent, AuditType, email_changed
from bastion.auth.factors.challenge import Pending
from bastion.auth.factors.passkeys import PASSKEY, WEBAUTHN
from bastion.auth.factors.totp import TOTP
from bastion.auth.identities import (
    ANONYMOUS,
    API_KEY,
    CUSTOM_TOKEN,
    PASSWORD,
    Identities,
)
from bastion.auth.providers.api_keys import ApiKeyRefused, ApiKeys
from bastion.auth.sessions import PreparedSession, Sessions, Start, TokenPair
from bastion.auth.sessions.values import refuse_after_write
from bastion.auth.settings import ProvidersConfig
from bastion.auth.throttle import LOGIN, SIGNUP, Throttle, account_key, keyed_account_key
from bastion.errors import BadUserInput, BastionError, Code, Conflict
from bastion.model.emails import email_key
from bastion.store import Store
from bastion.store.auth.tables import SESSION_TABLE
from bastion.store.auth.users import has_sessions

if TYPE_CHECKING:  # imported when the provider is on: it loads `cryptography`
    from bastion.auth.factors.gate import SecondFactors
    from bastion.auth.providers.custom_token import CustomTokenVerifier
    from bastion.auth.providers.custom_token.claims import CustomIdentity
    from bastion.auth.providers.user_fields import UserFields

# The providers that prove a first factor only: a user with a second factor answers its
# challenge before their session starts. An API key stands for a server, a custom token for
# the app's own login (which decides its factors), an anonymous user has none.
FIRST_FACTOR_PROVIDERS = frozenset({PASSWORD})
FIRST_FACTOR_PREFIX = "openid:"  # every OpenID provider's identities


def _first_factor_only(provider: str) -> bool:
    return provider in FIRST_FACTOR_PROVIDERS or provider.startswith(FIRST_FACTOR_PREFIX)


class ProviderDisabled(BastionError):
    """A login through a provider this project does not offer."""

    code = Code.FORBIDDEN

    def __init__(self, provider: str) -> None:
        super().__init__(f"The {provider} provider is not enabled", provider=provider)
        self.provider = provider


@dataclass(frozen=True)
class LoginClient:
    """What a login knows about the client beside its credential."""

    user_agent: str | None = None
    device_id: str | None = None  # as the SDK sent it; checked by the session
    stitch: bool = False  # a Stitch client API login: its refresh token is a session token
    # The client's address (see bastion.http.client_ip); None in-process, which is not limited.
    ip: str | None = None


@dataclass(frozen=True)
class LoggedIn:
    """A started session."""

    user_id: str
    tokens: TokenPair


@dataclass(frozen=True)
class _Checked:
    """A password login's check passed: what its write transaction needs."""

    user_id: str
    rehash: bool  # the stored hash has other parameters than the current ones
    prepared: PreparedSession
    had_failures: bool  # the account's failure count is to be forgotten


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadUserInput(f"`{key}` must be a non-empty string", field=key)
    return value


class Logins:
    """Every provider's login, over the accounts, identities, keys and sessions."""

    def __init__(
        self,
        providers: ProvidersConfig,
        store: Store,
        accounts: Accounts,
        identities: Identities,
        api_keys: ApiKeys,
        sessions: Sessions,
        custom_tokens: CustomTokenVerifier | None,
        throttle: Throttle,
        audit: Audit,
        user_fields: UserFields | None = None,
        factors: SecondFactors | None = None,
    ) -> None:
        self.providers = providers
        self._store = store
        self._accounts = accounts
        self._identities = identities
        self._api_keys = api_keys
        self._sessions = sessions
        self._custom = custom_tokens
        self._user_fields = user_fields  # the custom token's metadata_fields, checked
        self._throttle = throttle
        self._audit = audit
        self._session_table = store.tables.metadata.tables[SESSION_TABLE]
        # Refuses a password login whose address awaits a required confirmation (set by
        # bastion.auth.email when confirmations are required).
        self.confirmation_gate: Callable[[AsyncConnection, str], Awaitable[None]] | None = None
        self.factors = factors

    def require(self, provider: str) -> None:
        """Refuse a provider that is unknown or not enabled."""
        if not self.providers.enabled(provider):
            raise ProviderDisabled(provider)

    # -- the providers --------------------------------------------------------------------

    async def password(
        self,
        password: str,
        client: LoginClient,
        *,
        email: str | None = None,
        username: str | None = None,
    ) -> LoggedIn:
        """Email (or username) and password."""
        self.require(PASSWORD)
        await self._throttle.attempt(client.ip, LOGIN)
        # The address in its normal form, made once: the look-up and the throttle's key.
        key = email_key(email) if email is not None else None
        account = keyed_account_key(key, username)
        async with self._failures_audited(PASSWORD, client, account):
            checked = await self._check_login(account, password, key, username, client)
        user_id = checked.user_id
        # A renewed hash is made before the write, which then holds the writer for its rows only.
        digest = await self._accounts.passwords.hash(password) if checked.rehash else None
        db = self._store.db
        if not db.is_sqlite and not (digest or checked.had_failures or self.confirmation_gate):
            # PostgreSQL, nothing but the session to write: its rows and the audit event in one
            # autocommit statement, one round trip after the hash instead of five.
            event = self._audit.noted(self._login_event(checked.prepared, client))
            tokens = await self._sessions.begin_alone(checked.prepared, event)
            return LoggedIn(user_id, tokens)
        async with db.write() as conn:
            if digest is not None:
                await self._accounts.set_digest(conn, user_id, digest)
            if checked.had_failures:
                await self._throttle.succeeded_in(conn, account)
            if self.confirmation_gate is not None:
                await self.confirmation_gate(conn, user_id)
            return await self._begin(conn, checked.prepared, client)

    async def _check_login(
        self,
        account: str,
        password: str,
        email: str | None,
        username: str | None,
        client: LoginClient,
    ) -> _Checked:
        """Check a login's password, behind the account's throttle (failures counted against
        ``account``). A user with a second factor gets its challenge (MfaRequired) instead.

        One statement outside any transaction reads the account's failures, its holder's
        password hash and whether they have second factors (:meth:`Accounts.read_login`);
        what a right password leads to is done while the hash runs in its thread: the
        session's ids and tokens made (kept only if the password is right). The hash takes far
        longer, so an unknown account, which skips that work, still answers in the time of its
        dummy hash. ``email`` comes as :func:`email_key` made it.
        """
        read = await self._accounts.read_login(account, email=email, username=username)
        # A locked account is refused here, before any hash is computed.
        had_failures = await self._throttle.judge(account, read.failures)
        check = self._accounts.start_check(read.holder, password)
        candidate = check.candidate
        factors = (
            self.factors.counted(read.totp, read.passkey)
            if candidate is not None and self.factors is not None
            else []
        )
        prepared = (
            self._prepare(Start(candidate, PASSWORD), client)
            if candidate is not None and not factors
            else None
        )
        try:
            user_id, rehash = await check.result()
        except InvalidCredentials:
            await self._throttle.failed(account)
            raise
        if self.factors is not None:
            pending = Pending(user_id, PASSWORD, client.stitch, client.device_id)
            self.factors.challenge(pending, factors)
        assert prepared is not None  # made for the active user the check found
        return _Checked(user_id, rehash, prepared, had_failures)

    async def _verify_password(
        self, account: str, password: str, email: str | None, username: str | None
    ) -> tuple[str, bool]:
        """Check a password (failures counted against ``account``): (user id, needs rehash)."""
        try:
            # The ~20 ms of argon2 run on a read connection, never holding the write lock.
            async with self._store.db.read() as conn:
                return await self._accounts.verify_login(
                    conn, password, email=email, username=username
                )
        except InvalidCredentials:
            await self._throttle.failed(account)
            raise

    async def register(
        self,
        new: NewUser,
        client: LoginClient,
        *,
        log_in: bool = True,
        then: Callable[[AsyncConnection, str], Awaitable[None]] | None = None,
    ) -> str | LoggedIn:
        """A new email/password user; logged in at once unless ``log_in`` is False.

        ``then`` runs in the registration's transaction with the new user's id (the
        confirmation mail of :mod:`bastion.auth.email` is queued there).
        """
        self.require(PASSWORD)
        if not self.providers.local_userpass.signup:
            raise BastionError("Sign-up is disabled for this project", Code.FORBIDDEN)
        await self._throttle.attempt(client.ip, SIGNUP)
        digest = await self._accounts.hash_new_password(new.password, new.email)
        async with self._store.db.write() as conn:
            user_id = await self._accounts.create(conn, new, digest)
            if then is not None:
                await then(conn, user_id)
            if not log_in:
                return user_id
            return await self._start(conn, Start(user_id, PASSWORD), client)

    async def anonymous(self, client: LoginClient) -> LoggedIn:
        """A new anonymous user (no email, no password) and its session."""
        self.require(ANONYMOUS)
        await self._throttle.attempt(client.ip, SIGNUP)
        async with self._store.db.write() as conn:
            user_id = await self._store.writer.create(conn, "User", {})
            await self._identities.add(conn, user_id, ANONYMOUS, user_id)
            return await self._start(conn, Start(user_id, ANONYMOUS), client)

    async def api_key(self, key: str, client: LoginClient) -> LoggedIn:
        """An enabled API key of an active user."""
        self.require(API_KEY)
        await self._throttle.attempt(client.ip, LOGIN)
        async with self._failures_audited(API_KEY, client), self._store.db.write() as conn:
            user_id, key_id = await self._api_keys.verify(conn, key)
            if not await self._accounts.is_active(conn, user_id):
                raise ApiKeyRefused()
            return await self._start(conn, Start(user_id, API_KEY, credential_id=key_id), client)

    async def custom_token(self, token: str, client: LoginClient) -> LoggedIn:
        """A JWT of the app's identity system; its subject's user is made on first login."""
        self.require(CUSTOM_TOKEN)
        # Both are built whenever the provider is enabled.
        assert self._custom is not None and self._user_fields is not None
        await self._throttle.attempt(client.ip, LOGIN)
        async with self._failures_audited(CUSTOM_TOKEN, client):
            identity = await self._custom.verify(
                token
            )  # before any write: a bad token makes nothing
        fields = self._user_fields.fit(identity.fields)  # only values that fit their fields
        try:
            return await self._custom_token_session(identity, fields, client)
        except (IntegrityError, BastionError):
            # Two first logins of one subject at once (two devices): both found no user and
            # made one, and the second to commit collided with the first (its identity, or
            # its email). Then the user exists now: log in as them. Otherwise the collision
            # was with someone else's account, and the error stands.
            async with self._store.db.read() as conn:
                if await self._identities.owner(conn, CUSTOM_TOKEN, identity.subject) is None:
                    raise
            return await self._custom_token_session(identity, fields, client)

    async def _custom_token_session(
        self, identity: CustomIdentity, fields: dict[str, Any], client: LoginClient
    ) -> LoggedIn:
        """The session of a verified custom token: its subject's user found, or made."""
        async with self._store.db.write() as conn:
            user_id = await self._identities.owner(conn, CUSTOM_TOKEN, identity.subject)
            if user_id is None:
                user_id = await self._store.writer.create(conn, "User", fields)
                await self._identities.add(
                    conn, user_id, CUSTOM_TOKEN, identity.subject, identity.user_data
                )
            else:
                if not await self._accounts.is_active(conn, user_id):
                    raise InvalidCredentials()
                current = await self._accounts.email_of(conn, user_id)
                if fields.get("email") not in (None, current):
                    await self._audit.record(email_changed(user_id, CUSTOM_TOKEN), conn)
                if fields:
                    await self._store.writer.update(conn, "User", user_id, fields)
                await self._identities.set_data(
                    conn, CUSTOM_TOKEN, identity.subject, identity.user_data
                )
            start = Start(user_id, CUSTOM_TOKEN, user_data=identity.user_data)
            return await self._start(conn, start, client)

    async def login(self, provider: str, body: Mapping[str, Any], client: LoginClient) -> LoggedIn:
        """A login with a Stitch credential body (``{"username", "password"}``, ``{"key"}``...)."""
        self.require(provider)
        if provider == PASSWORD:
            login, password = _text(body, "username"), _text(body, "password")
            # Stitch names the field username; it holds an email unless it has no @.
            if "@" in login:
                return await self.password(password, client, email=login)
            return await self.password(password, client, username=login)
        if provider == ANONYMOUS:
            return await self.anonymous(client)
        if provider == API_KEY:
            return await self.api_key(_text(body, "key"), client)
        return await self.custom_token(_text(body, "token"), client)

    # -- linking --------------------------------------------------------------------------

    async def link(
        self, user_id: str, provider: str, body: Mapping[str, Any], client: LoginClient
    ) -> None:
        """Add the identity a credential proves to the user (Stitch's ``linkCredentials``).

        An email/password credential whose email nobody holds gives the user that email and
        password. One of a user who never logged in (registered, then linked, as the SDKs do)
        moves to the caller, and that empty user goes. An identity of another user is a
        CONFLICT: linking never merges two users' data.
        """
        self.require(provider)
        await self._throttle.attempt(client.ip, LOGIN)
        if provider == PASSWORD:
            await self._link_password(user_id, _text(body, "username"), _text(body, "password"))
        elif provider == CUSTOM_TOKEN:
            assert self._custom is not None
            identity = await self._custom.verify(_text(body, "token"))
            async with self._store.db.write() as conn:
                owner = await self._identities.owner(conn, CUSTOM_TOKEN, identity.subject)
                if owner is None:
                    await self._identities.add(
                        conn, user_id, CUSTOM_TOKEN, identity.subject, identity.user_data
                    )
                elif owner != user_id:
                    raise Conflict("This identity belongs to another user")
        else:
            raise BadUserInput(f"An identity of the {provider} provider cannot be linked")

    async def _link_password(self, user_id: str, email: str, password: str) -> None:
        email = self._store.emails.check(email)
        async with self._store.db.read() as conn:
            if await self._identities.has_password(conn, user_id):
                raise Conflict("This user has an email/password identity already")
            holder = await self._accounts.holder_of(conn, email)  # `email` is in normal form
        if holder is None or holder == user_id:
            digest: str | None = await self._accounts.hash_new_password(password, email)
            holder = None
        else:
            account = account_key(email=email)
            await self._throttle.gate(account)
            await self._verify_password(account, password, email, None)
            digest = None
        async with self._store.db.write() as conn:
            if holder is not None:
                # Only a user who never logged in (registered, then linked) is moved.
                if await has_sessions(conn, self._session_table, holder):
                    raise Conflict("This identity belongs to another user")
                digest = await self._accounts.password_hash(conn, holder)
                await self._store.writer.delete(conn, "User", holder)
            assert digest is not None
            if await self._accounts.email_of(conn, user_id) != email:
                await self._audit.record(email_changed(user_id, PASSWORD), conn)
            await self._store.writer.update(conn, "User", user_id, {"email": email})
            await self._accounts.add_password(conn, user_id, digest)

    # -- changing the address ---------------------------------------------------------------

    async def change_email(
        self, user_id: str, password: str, new_email: str, client: LoginClient
    ) -> None:
        """Give the user another address, proven by their password: a credential change.

        Throttled and audited like a login (a stolen session guessing the password meets the
        same per-account lock); the change is audited in its own transaction.
        """
        await self._throttle.attempt(client.ip, LOGIN)
        email = self._store.emails.check(new_email)  # a bad address costs no hashing
        async with self._store.db.read() as conn:
            current = await self._accounts.email_of(conn, user_id)
            stored = await self._accounts.password_hash(conn, user_id)
        account = account_key(email=current) if current else account_key(username=user_id)
        async with self._failures_audited(PASSWORD, client, account):
            await self._throttle.gate(account)
            if not await self._accounts.passwords.verify(stored, password):
                await self._throttle.failed(account)
                raise InvalidCredentials()
        if email == current:
            return  # the address they have, in another spelling: nothing changes
        async with self._store.db.write() as conn:
            await self._store.writer.update(conn, "User", user_id, {"email": email})
            event = email_changed(user_id, "user", ip=client.ip, user_agent=client.user_agent)
            await self._audit.record(event, conn)

    # -- the second factor ------------------------------------------------------------------

    async def reauthenticate(self, user_id: str, password: str | None, client: LoginClient) -> str:
        """Refuse unless ``password`` is the user's (when they have one): a credential change
        such as a new second factor needs more than a session. Throttled and audited like a
        login. The user's account name (their email, or their id) for an authenticator app.
        """
        await self._throttle.attempt(client.ip, LOGIN)
        async with self._store.db.read() as conn:
            current = await self._accounts.email_of(conn, user_id)
            stored = await self._accounts.password_hash(conn, user_id)
        if stored is None:
            return current or user_id  # no password to prove (an OpenID or anonymous user)
        account = account_key(email=current) if current else account_key(username=user_id)
        async with self._failures_audited(PASSWORD, client, account):
            await self._throttle.gate(account)
            if not password or not await self._accounts.passwords.verify(stored, password):
                await self._throttle.failed(account)
                raise InvalidCredentials()
        return current or user_id

    async def complete_mfa(self, challenge: str, code: str, client: LoginClient) -> LoggedIn:
        """Start the session a login's challenge waits for, once ``code`` proves the factor."""
        assert self.factors is not None
        await self._throttle.attempt(client.ip, LOGIN)
        async with self._failures_audited("mfa", client):
            pending = await self.factors.complete(challenge, code)
        async with self._store.db.write() as conn:
            if not await self._accounts.is_active(conn, pending.user_id):
                raise InvalidCredentials()
            client = LoginClient(
                user_agent=client.user_agent,
                device_id=pending.device_id,
                stitch=pending.stitch,
                ip=client.ip,
            )
            start = Start(pending.user_id, pending.provider, factor=TOTP)
            return await self._start(conn, start, client)

    async def passkey(
        self, credential: str, client: LoginClient, mfa_challenge: str | None = None
    ) -> LoggedIn:
        """Log in with a passkey alone (two factors in one), or complete a login's challenge
        with one of its user's passkeys."""
        passkeys = self.factors.passkeys if self.factors is not None else None
        if passkeys is None or self.factors is None:
            raise ProviderDisabled(PASSKEY)
        await self._throttle.attempt(client.ip, LOGIN)
        pending = self.factors.challenges.read(mfa_challenge) if mfa_challenge else None
        async with self._failures_audited(PASSKEY, client):
            user_id = await passkeys.verify(credential, pending.user_id if pending else None)
        async with self._store.db.write() as conn:
            if not await self._accounts.is_active(conn, user_id):
                raise InvalidCredentials()
            if pending is None:
                return await self._start(conn, Start(user_id, PASSKEY, factor=WEBAUTHN), client)
            client = LoginClient(
                user_agent=client.user_agent,
                device_id=pending.device_id,
                stitch=pending.stitch,
                ip=client.ip,
            )
            start = Start(user_id, pending.provider, factor=WEBAUTHN)
            return await self._start(conn, start, client)

    async def start_in(self, conn: AsyncConnection, start: Start, client: LoginClient) -> LoggedIn:
        """Start a session in the caller's transaction: how the other sign-in modules
        (:mod:`bastion.auth.openid`, a login by emailed code) end, with the same second-factor
        gate and audit."""
        return await self._start(conn, start, client)

    # -- helpers --------------------------------------------------------------------------

    async def _start(self, conn: AsyncConnection, start: Start, client: LoginClient) -> LoggedIn:
        if self.factors is not None and start.factor is None and _first_factor_only(start.provider):
            pending = Pending(start.user_id, start.provider, client.stitch, client.device_id)
            await self.factors.require(conn, pending)
        return await self._begin(conn, self._prepare(start, client), client)

    def _prepare(self, start: Start, client: LoginClient) -> PreparedSession:
        """The session ``start`` begins for ``client``, made but not stored."""
        return self._sessions.prepare(
            Start(
                start.user_id,
                start.provider,
                user_agent=client.user_agent,
                device_id=client.device_id,
                user_data=start.user_data,
                credential_id=start.credential_id,
                stitch=client.stitch,
                factor=start.factor,
            )
        )

    async def _begin(
        self, conn: AsyncConnection, prepared: PreparedSession, client: LoginClient
    ) -> LoggedIn:
        """Store a prepared session and its login's audit event in ``conn``'s transaction."""
        # In the login's transaction: no login, no event.
        if self._store.db.is_sqlite:
            # The three rows as statements compiled once: through SQLAlchemy's execute they
            # cost several times what SQLite does for them.
            event = self._login_event(prepared, client)
            tokens = await self._sessions.begin_logged(conn, prepared, self._audit.row(event))
            self._audit.note(event)
            return LoggedIn(prepared.row.user_id, tokens)
        tokens = await self._sessions.begin(conn, prepared)
        await self._audit.record(self._login_event(prepared, client), conn)
        return LoggedIn(prepared.row.user_id, tokens)

    @staticmethod
    def _login_event(prepared: PreparedSession, client: LoginClient) -> AuditEvent:
        """The audit event of the login that starts ``prepared``."""
        row = prepared.row
        return AuditEvent(
            AuditType.LOGIN,
            user_id=row.user_id,
            provider=row.provider,
            ip=client.ip,
            user_agent=client.user_agent,
            session_id=prepared.pair.session_id,
        )

    @asynccontextmanager
    async def _failures_audited(
        self, provider: str, client: LoginClient, account: str | None = None
    ) -> AsyncIterator[None]:
        """Record a refused credential (never the credential: at most its account's digest).

        Refuses to check a credential after the request wrote data on SQLite: its failure could
        then be counted only in the request's transaction, and undone with it (a failing field
        beside a login would make guesses free)."""
        refuse_after_write(self._store.db)
        try:
            yield
        except BastionError as error:
            if error.code is Code.INVALID_CREDENTIALS:
                event = AuditEvent(
                    AuditType.LOGIN_FAILED,
                    provider=provider,
                    ip=client.ip,
                    user_agent=client.user_agent,
                    detail={"account": account[:16]} if account else {},
                )
                await self._audit.record(event)
            raise
