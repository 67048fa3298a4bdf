"""Mail: SMTP settings, templates per locale, and an outbox sent off the request path.

A flow that mails (a confirmation, a reset, a login code) renders its mail from a template
(:mod:`bastion.mail.templates`) and puts it in the outbox (:mod:`bastion.mail.outbox`) in the
transaction that makes its token; a background sender delivers it over SMTP
(:mod:`bastion.mail.transports`), retrying with growing delays. This package knows nothing
of users or tokens: the flows live in :mod:`bastion.auth.email`.
"""

from bastion.mail.outbox import Outbox
from bastion.mail.settings import MailConfig

__all__ = ["MailConfig", "Outbox"]
