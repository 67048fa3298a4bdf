"""``auth.mfa``: second factors."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bastion.tools.section import Section


class MfaConfig(Section):
    """``auth.mfa``: the TOTP authenticator and whether a second factor is required."""

    # Shown by authenticator apps beside the account name; the project's name when unset.
    issuer: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    # How long the challenge a login answers may be completed with a code.
    challenge_lifetime: Annotated[int, Field(ge=30, le=1800)] = 300
    # `true`: every user's session must have proven a second factor to use the API (a session
    # without one may only call the auth fields: enrol and confirm a factor, log out).
    # A list of types: every rule of those types asks it (as `"$viewer.mfa": true` would).
    required: bool | list[Annotated[str, Field(min_length=1, max_length=100)]] = False
    # How many recovery codes confirming an authenticator (or asking again) gives.
    recovery_codes: Annotated[int, Field(ge=4, le=20)] = 10
