"""``bastion email test``: a mail to a real SMTP server now, or the relay's refusal."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from bastion.cli import main
from tests.conftest import write_project
from tests.smtp_server import SmtpServer, html_of, smtp, text_of

__all__ = ["smtp"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_a_test_mail_reaches_the_relay(tmp_path: Path, smtp: SmtpServer) -> None:
    project = write_project(tmp_path / "p", mail=smtp.settings)
    result = cli("email", "test", "Ops@Example.com", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent a test mail to ops@example.com\n"
    mail = smtp.next_blocking()
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == "Test mail from test"
    assert "the mail settings work" in text_of(mail)
    assert "<b>test</b>" in html_of(mail)


def test_the_test_mail_in_another_language(tmp_path: Path, smtp: SmtpServer) -> None:
    project = write_project(tmp_path / "p", mail=smtp.settings)
    result = cli("email", "test", "ops@example.com", "--locale", "fr", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert smtp.next_blocking()["Subject"] == "Message de test de test"


def test_a_refusing_relay_is_reported(tmp_path: Path, smtp: SmtpServer) -> None:
    project = write_project(tmp_path / "p", mail=smtp.settings)
    smtp.refuse(1)
    result = cli("email", "test", "ops@example.com", "--project", str(project))
    assert result.exit_code == 1
    assert "error: the relay did not take the mail: " in result.stderr
    assert "451" in result.stderr


def test_without_mail_settings_it_says_what_to_set(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    result = cli("email", "test", "ops@example.com", "--project", str(project))
    assert result.exit_code == 1
    assert "Mail is not configured for this project: set mail.smtp in bastion.yml" in result.stderr
