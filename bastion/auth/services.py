"""The authentication services of one project, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.auth.accounts import Accounts
from bastion.auth.authenticate import Authenticator
from bastion.auth.passwords import Passwords
from bastion.auth.secret import check_secret, load_secret
from bastion.auth.sessions import Sessions
from bastion.auth.settings import AuthConfig
from bastion.auth.tokens import AccessTokens
from bastion.clock import Clock
from bastion.project import Project
from bastion.store import Store
from bastion.store.system import PASSWORD_TABLE, REFRESH_TABLE, SESSION_TABLE


@dataclass(frozen=True)
class AuthServices:
    """Accounts, sessions, tokens and the request authenticator."""

    config: AuthConfig
    accounts: Accounts
    sessions: Sessions
    tokens: AccessTokens
    authenticator: Authenticator


def build_auth(
    project: Project, store: Store, clock: Clock, secret: bytes | None = None
) -> AuthServices:
    """Wire the services of ``project``; the secret is loaded (or made) unless given."""
    config = project.config.auth
    # An injected secret gets the same length check as one from the environment or the file.
    key = (
        check_secret(secret, "the injected secret")
        if secret is not None
        else load_secret(project.data_dir)
    )
    tables = store.tables.metadata.tables
    tokens = AccessTokens(
        key,
        issuer=config.issuer or f"bastion:{project.config.app_id}",
        audience=project.config.app_id,
        lifetime=config.access_token_lifetime,
        clock=clock,
    )
    sessions = Sessions(
        store.db,
        {
            "session": tables[SESSION_TABLE],
            "refresh": tables[REFRESH_TABLE],
            "user": store.tables["User"],
        },
        tokens,
        config,
        clock,
        key,
    )
    accounts = Accounts(
        store,
        tables[PASSWORD_TABLE],
        Passwords(config.password_hash),
        clock,
        config.email_password.min_password_length,
    )
    return AuthServices(
        config=config,
        accounts=accounts,
        sessions=sessions,
        tokens=tokens,
        authenticator=Authenticator(tokens, sessions, clock),
    )
