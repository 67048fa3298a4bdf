"""The ``auth:`` section of ``bastion.yml``."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from bastion.section import Section

DAY = 86_400


class PasswordHashConfig(Section):
    """argon2id parameters; never below OWASP's minimum (m=19 MiB, t=2, p=1)."""

    memory_cost: Annotated[int, Field(ge=19_456, le=4_194_304)] = 19_456
    time_cost: Annotated[int, Field(ge=2, le=20)] = 2
    parallelism: Annotated[int, Field(ge=1, le=16)] = 1


class EmailPasswordConfig(Section):
    """``auth.email_password``: sign-up and password rules."""

    signup: bool = False
    # NIST SP 800-63B-4 asks 15 when the password is the only factor; 8 is its floor.
    min_password_length: Annotated[int, Field(ge=8, le=128)] = 8


class AuthConfig(Section):
    """``auth:`` — tokens, sessions and the email/password provider."""

    access_token_lifetime: Annotated[int, Field(ge=10, le=DAY)] = 1800
    refresh_token_lifetime: Annotated[int, Field(ge=60, le=365 * DAY)] = 30 * DAY
    session_max_lifetime: Annotated[int, Field(ge=60, le=3650 * DAY)] = 90 * DAY
    refresh_reuse_interval: Annotated[int, Field(ge=0, le=300)] = 0
    renew_in_response_header: bool = True
    # Stitch's mode: every operation but the login fields needs a logged-in viewer.
    require_login: bool = False
    issuer: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    email_password: EmailPasswordConfig = EmailPasswordConfig()
    password_hash: PasswordHashConfig = PasswordHashConfig()

    @model_validator(mode="after")
    def _lifetimes_fit(self) -> AuthConfig:
        if self.refresh_token_lifetime > self.session_max_lifetime:
            raise ValueError("refresh_token_lifetime cannot exceed session_max_lifetime")
        return self
