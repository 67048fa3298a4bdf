"""Second factors: a TOTP authenticator app with recovery codes (and passkeys, elsewhere).

A login whose user holds a confirmed factor answers a challenge instead of tokens
(:mod:`bastion.auth.factors.challenge`); the code completes it, and the session then records
which factor it was opened with, which rules read as ``$viewer.mfa``.
"""
