"""The settings of accounts by email: confirmations, resets, login codes, address changes.

``auth.providers.local-userpass`` takes the confirmation and reset settings (its accounts are
the ones confirmed and reset), ``auth.providers.email-code`` the login by emailed code or
link. Every flow here sends mail, so each needs the ``mail:`` section (``bastion.mail``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bastion.tools.section import Section

MINUTE = 60


class MailedAccountsConfig(Section):
    """What ``auth.providers.local-userpass`` adds for mail (see LocalUserpassConfig)."""

    # required: no password login until the address is confirmed; optional: a confirmation
    # mail is sent, and the login works meanwhile; off: no mail at sign-up.
    confirmation: Literal["required", "optional", "off"] = "off"
    # How long each emailed token works, in seconds.
    confirmation_lifetime: Annotated[int, Field(ge=5 * MINUTE, le=7 * 24 * 60 * MINUTE)] = (
        48 * 60 * MINUTE
    )
    reset_lifetime: Annotated[int, Field(ge=5 * MINUTE, le=24 * 60 * MINUTE)] = 30 * MINUTE
    email_change_lifetime: Annotated[int, Field(ge=5 * MINUTE, le=7 * 24 * 60 * MINUTE)] = (
        24 * 60 * MINUTE
    )
    # Mails of one kind sent to one address per hour at most; further requests get the same
    # answer and send nothing (a mailbox is not to be flooded through Bastion).
    mails_per_address_per_hour: Annotated[int, Field(ge=1, le=100)] = 5


class EmailCodeConfig(Section):
    """``auth.providers.email-code``: log in with a code (or link) sent by mail."""

    enabled: bool = False
    # Whether the first login of an address nobody holds makes its user.
    signup: bool = False
    lifetime: Annotated[int, Field(ge=MINUTE, le=60 * MINUTE)] = 10 * MINUTE
    # Wrong codes one mail's code survives; then it is dead and a new one must be asked for.
    code_attempts: Annotated[int, Field(ge=1, le=10)] = 5
    code_digits: Annotated[int, Field(ge=6, le=10)] = 6
