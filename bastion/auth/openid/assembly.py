"""Building the OpenID providers of one project (for :func:`bastion.auth.assembly.build_auth`)."""

from __future__ import annotations

from bastion.auth.accounts import Accounts
from bastion.auth.identities import Identities
from bastion.auth.logins import Logins
from bastion.auth.openid.accounts import OpenIdAccounts
from bastion.auth.openid.signin import OpenIdSignIn
from bastion.auth.project_view import AuthProject
from bastion.auth.throttle import Throttle
from bastion.store import Store
from bastion.store.auth.openid_rows import OpenIdRows
from bastion.store.auth.openid_tables import (
    OPENID_CODE_TABLE,
    OPENID_FLOW_TABLE,
    OPENID_USED_TABLE,
)
from bastion.tools.clock import Clock


def openid_for(
    project: AuthProject,
    store: Store,
    logins: Logins,
    accounts: Accounts,
    identities: Identities,
    throttle: Throttle,
    clock: Clock,
) -> OpenIdSignIn:
    """The OpenID sign-in of ``project`` (its ``auth.providers.openid``)."""
    tables = store.tables.metadata.tables
    rows = OpenIdRows(
        tables[OPENID_FLOW_TABLE], tables[OPENID_CODE_TABLE], tables[OPENID_USED_TABLE]
    )
    return OpenIdSignIn(
        project.config.auth.providers.openid,
        project.model,
        store,
        logins,
        OpenIdAccounts(store, accounts, identities),
        rows,
        throttle,
        clock,
    )
