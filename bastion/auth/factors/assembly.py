"""Building the second factors of one project (for :func:`bastion.auth.assembly.build_auth`)."""

from __future__ import annotations

from bastion.auth.derived import DerivedSecrets
from bastion.auth.factors.challenge import Challenges
from bastion.auth.factors.gate import SecondFactors
from bastion.auth.factors.passkeys import Passkeys
from bastion.auth.factors.totp import Totp
from bastion.auth.project_view import AuthProject
from bastion.auth.throttle import Throttle
from bastion.store import Store
from bastion.store.auth.factor_tables import RECOVERY_CODE_TABLE, TOTP_TABLE
from bastion.store.auth.factors import RecoveryCodeRows, TotpRows
from bastion.store.auth.passkey_rows import PasskeyRows
from bastion.store.auth.passkey_tables import PASSKEY_TABLE, WEBAUTHN_CHALLENGE_TABLE
from bastion.tools.clock import Clock


def second_factors_for(
    project: AuthProject, store: Store, derived: DerivedSecrets, clock: Clock, throttle: Throttle
) -> SecondFactors:
    """The TOTP authenticators and the login challenges of ``project``."""
    config = project.config.auth.mfa
    tables = store.tables.metadata.tables
    totp = Totp(
        store.db,
        TotpRows(tables[TOTP_TABLE]),
        RecoveryCodeRows(tables[RECOVERY_CODE_TABLE]),
        derived,
        clock,
        config.issuer or project.config.name,
        config.recovery_codes,
    )
    challenges = Challenges(derived, clock, config.challenge_lifetime)
    passkeys = None
    passkey_config = project.config.auth.passkeys
    if passkey_config.enabled:
        rows = PasskeyRows(tables[PASSKEY_TABLE], tables[WEBAUTHN_CHALLENGE_TABLE])
        passkeys = Passkeys(passkey_config, store.db, rows, clock, project.config.name)
    return SecondFactors(store.db, totp, challenges, throttle, passkeys)
