"""The ``mail:`` section: a one-line sender, http(s) links, one way out."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bastion.mail.settings import MailConfig


def test_defaults_send_nothing() -> None:
    assert MailConfig().enabled is False
    assert MailConfig(log_file="mail.log").enabled is True


@pytest.mark.parametrize(
    "section",
    [
        {"sender": "Shop <a@b.example>\r\nBcc: all@example.com"},
        {"sender": "no address here"},
        {"link_url": "javascript:alert(1)"},
        {"log_file": "mail.log", "smtp": {"host": "smtp.example"}},
        {"smtp": {"host": "smtp.example", "security": "ssl3"}},
        {"smtp": {"host": "smtp.example", "password": "in the file"}},
    ],
)
def test_bad_sections_are_refused(section: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MailConfig.model_validate(section)
