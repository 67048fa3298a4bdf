"""The ``mail:`` section of ``bastion.yml``: where mail goes and how it is sent.

Without ``smtp`` (or, in development, ``log_file``) no mail can go out, and the flows that
need one answer ``MAIL_NOT_CONFIGURED``. The SMTP password is never in the file: ``password_env``
names the environment variable that holds it.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from bastion.tools.section import Section


class SmtpConfig(Section):
    """``mail.smtp``: the relay that delivers Bastion's mail."""

    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65_535)] = 587
    # starttls: plain connection upgraded (port 587); tls: TLS from the start (port 465);
    # none: no encryption, for a relay on the same machine or a test server only.
    security: Literal["starttls", "tls", "none"] = "starttls"
    user: Annotated[str, Field(min_length=1, max_length=320)] | None = None
    password_env: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timeout: Annotated[int, Field(ge=1, le=300)] = 30


class MailConfig(Section):
    """``mail:`` — the sender, the relay, the templates and the retries."""

    # The From header: "Name <address>" or an address.
    sender: Annotated[str, Field(min_length=3, max_length=320)] = "Bastion <no-reply@localhost>"
    smtp: SmtpConfig | None = None
    # Development only: mails are appended to this file (relative to the project) instead of
    # being sent. Refused in production mode.
    log_file: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    # The page of the app that takes the links of the mails: it gets `action`, `tokenId` and
    # `token` as query parameters (Stitch's emailConfirmationUrl / resetPasswordUrl).
    link_url: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    # Project templates, overriding the shipped ones: <templates>/<locale>/<name>.txt ...
    templates: Annotated[str, Field(min_length=1, max_length=500)] = "emails"
    default_locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = "en"
    # How many times a mail is tried before it is given up, and the first wait between
    # tries (doubled at each further one).
    attempts: Annotated[int, Field(ge=1, le=50)] = 6
    retry_delay: Annotated[int, Field(ge=1, le=86_400)] = 30

    @field_validator("sender")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if any(c in value for c in "\r\n\0"):
            raise ValueError("the sender must be on one line")
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError("expected an address, or Name <address>")
        return value

    @field_validator("link_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL")
        return value

    @model_validator(mode="after")
    def _one_way_out(self) -> MailConfig:
        if self.smtp is not None and self.log_file is not None:
            raise ValueError("give smtp or log_file, not both")
        return self

    @property
    def enabled(self) -> bool:
        """Whether mail can go out at all."""
        return self.smtp is not None or self.log_file is not None
