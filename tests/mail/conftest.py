"""The real SMTP server of the mail tests (tests/smtp_server.py)."""

from tests.smtp_server import smtp

__all__ = ["smtp"]
