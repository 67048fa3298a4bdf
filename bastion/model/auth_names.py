"""The names of the auth contract's root fields: their one list, and what each one is.

The fields themselves are built on the GraphQL engine (:mod:`bastion.graphql.auth`), but their
names are needed lower down and in several places that must agree, so they are listed here,
in the lowest floor that needs them, once:

- the model may not generate a root field that Bastion defines itself
  (:data:`bastion.model.names.RESERVED_ROOT_FIELDS`);
- with ``auth.require_login`` on, only the :attr:`~Role.PUBLIC` fields answer an anonymous
  caller (:func:`bastion.graphql.auth.contract.require_login`);
- the :attr:`~Role.CREDENTIAL` fields are marked as carrying a credential
  (:func:`bastion.graphql.auth.contract.mark_credential_fields`), and the engine refuses a
  document that carries more than one (:mod:`bastion.graphql.credential_limit`), so aliases
  cannot turn one request into many guesses.

The names are public contracts (Slicknode's auth module, Seed 001's ``loginUser``, the Stitch
SDKs' providers): keep them exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Flag, auto
from types import MappingProxyType


class Role(Flag):
    """What an auth field is, beside being one of Bastion's own."""

    NONE = 0
    PUBLIC = auto()
    """Callable before logging in: the ways to log in, and asking whether one is."""
    CREDENTIAL = auto()
    """Carries a password, a token or a key: at most one such field per document."""
    OWN_PROOF = auto()
    """Proves who asks by its own arguments (a password, a refresh token, a key), so it runs
    whatever the ``Authorization`` header holds: a client whose access token has expired must
    still be able to refresh it, log in again or log out."""


_LOGIN = Role.PUBLIC | Role.CREDENTIAL | Role.OWN_PROOF

AUTH_ROOT_FIELDS: Mapping[str, Role] = MappingProxyType(
    {
        # The viewer and the Slicknode / Seed 001 contract (graphql/auth/viewer.py, contract.py).
        "viewer": Role.PUBLIC,
        "loginEmailPassword": _LOGIN,
        "loginUser": _LOGIN,
        "registerUserEmailPassword": _LOGIN,
        "refreshToken": _LOGIN,
        "refreshAuthToken": _LOGIN,
        "logout": Role.PUBLIC | Role.OWN_PROOF,
        "logoutUser": Role.PUBLIC | Role.OWN_PROOF,
        "logoutAll": Role.NONE,
        # Proven by the password again: credentials, but only for a logged-in user.
        "changePassword": Role.CREDENTIAL,
        "changeEmail": Role.CREDENTIAL,
        # The other providers and the viewer's keys and sessions (providers.py, viewer.py).
        "loginAnonymous": _LOGIN,
        "loginApiKey": _LOGIN,
        "loginCustomToken": _LOGIN,
        "linkIdentity": Role.CREDENTIAL,
        "apiKeys": Role.NONE,
        "createApiKey": Role.NONE,
        "deleteApiKey": Role.NONE,
        "disableApiKey": Role.NONE,
        "enableApiKey": Role.NONE,
        "revokeSession": Role.NONE,
        # For root tokens only (admin.py).
        "revokeSessions": Role.NONE,
        "deactivateUser": Role.NONE,
        "activateUser": Role.NONE,
        "auditEvents": Role.NONE,
        # For root tokens only: the admin console's fields (console.py).
        "userSessions": Role.NONE,
        "userIdentities": Role.NONE,
        "serverApiKeys": Role.NONE,
        "rootTokens": Role.NONE,
        "signingKeys": Role.NONE,
        "projectSettings": Role.NONE,
        "createUserWithPassword": Role.NONE,
        "createServerApiKey": Role.NONE,
        "deleteServerApiKey": Role.NONE,
        "rotateRootToken": Role.NONE,
        "rotateSigningKey": Role.NONE,
        # Accounts by email (email.py): each sends a mail or carries an emailed token, so a
        # document holds one at most, like a login.
        "resendConfirmationEmail": _LOGIN,
        "confirmEmail": _LOGIN,
        "sendPasswordResetEmail": _LOGIN,
        "resetPassword": _LOGIN,
        "sendLoginCode": _LOGIN,
        "loginEmailCode": _LOGIN,
        "requestEmailChange": Role.CREDENTIAL,
        "confirmEmailChange": _LOGIN,
        # Second factors (factors.py): completing a login's challenge, the authenticator.
        "completeMfaLogin": _LOGIN,
        "enrolTotp": Role.CREDENTIAL,
        "confirmTotp": Role.CREDENTIAL,
        "newRecoveryCodes": Role.CREDENTIAL,
        "disableTotp": Role.CREDENTIAL,
        "mfaStatus": Role.NONE,
        # OpenID Connect providers (openid.py).
        "loginOpenIdCode": _LOGIN,
        "loginOpenId": _LOGIN,
        # Passkeys (passkeys.py): the options are public (a login begins with them).
        "passkeys": Role.NONE,
        "passkeyRegistrationOptions": Role.NONE,
        "registerPasskey": Role.CREDENTIAL,
        "passkeyLoginOptions": Role.PUBLIC | Role.OWN_PROOF,
        "loginPasskey": _LOGIN,
        "deletePasskey": Role.NONE,
    }
)
"""Every root field of the auth contract (on Query or Mutation) -> its role."""

PUBLIC_FIELDS = frozenset(name for name, role in AUTH_ROOT_FIELDS.items() if Role.PUBLIC in role)
"""The fields anyone may call when ``auth.require_login`` is on."""
CREDENTIAL_FIELDS = frozenset(
    name for name, role in AUTH_ROOT_FIELDS.items() if Role.CREDENTIAL in role
)
"""The fields that carry a credential (a password, a token, a key)."""
OWN_PROOF_FIELDS = frozenset(
    name for name, role in AUTH_ROOT_FIELDS.items() if Role.OWN_PROOF in role
)
"""The fields that run whatever the ``Authorization`` header holds (see :attr:`Role.OWN_PROOF`)."""
