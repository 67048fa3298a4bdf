"""What goes to the relay: one MIME message with safe headers; the development file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bastion.errors import ProjectError
from bastion.mail.settings import MailConfig
from bastion.mail.transports import FileTransport, build_message, transport_for
from bastion.store.auth.mail_outbox import OutboxMail

MAIL = OutboxMail("test", "ann@example.com", "Hi", "plain\n", "<p>rich</p>")


def test_the_message_has_text_and_html_and_no_header_can_be_smuggled() -> None:
    message = build_message("Shop <no-reply@shop.example>", MAIL)
    assert message["From"] == "Shop <no-reply@shop.example>"
    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"].endswith("@shop.example>")
    with pytest.raises(ValueError):
        build_message("x@y.z", OutboxMail("t", "a@b.c", "Hi\r\nBcc: all@example.com", "x"))


async def test_the_development_file_is_private_and_keeps_every_mail(tmp_path: Path) -> None:
    path = tmp_path / "mail.log"
    transport = FileTransport(path)
    await transport.deliver(build_message("x@y.z", MAIL))
    await transport.deliver(build_message("x@y.z", MAIL))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().count("To: ann@example.com") == 2


def test_the_file_is_refused_in_production_and_a_missing_password_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProjectError, match="only in development mode"):
        transport_for(MailConfig(log_file="mail.log"), tmp_path, "production")
    config = MailConfig.model_validate({"smtp": {"host": "smtp.example", "password_env": "PW"}})
    monkeypatch.delenv("PW", raising=False)
    with pytest.raises(ProjectError, match="the variable PW is not set"):
        transport_for(config, tmp_path, "production")
    monkeypatch.setenv("PW", "secret")
    assert transport_for(config, tmp_path, "production") is not None
    assert transport_for(MailConfig(), tmp_path, "development") is None
