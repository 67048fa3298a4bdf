"""``auth.passkeys``: passkeys (WebAuthn), to log in without a password or as a second factor."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from bastion.tools.section import Section


class PasskeyConfig(Section):
    """The relying party the browsers' authenticators bind passkeys to.

    ``rp_id`` is the site's domain (``example.com``: passkeys then work on it and its
    subdomains); ``origins`` are the exact origins whose pages may use them
    (``https://app.example.com``). A passkey made for one relying party never signs for another.
    """

    enabled: bool = False
    rp_id: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    rp_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    origins: list[Annotated[str, Field(pattern=r"^https?://[^/]+$", max_length=300)]] = []
    # How long a ceremony's challenge may be answered.
    challenge_lifetime: Annotated[int, Field(ge=30, le=900)] = 300
    # How many passkeys one user may hold.
    max_per_user: Annotated[int, Field(ge=1, le=100)] = 20

    @model_validator(mode="after")
    def _relying_party(self) -> PasskeyConfig:
        if self.enabled and (self.rp_id is None or not self.origins):
            raise ValueError("passkeys need rp_id (the site's domain) and origins")
        return self
