"""``bastion email``: check that the project's mail settings deliver.

``bastion email test ADDRESS`` sends the ``test`` template to ADDRESS at once, through the
relay of ``mail.smtp`` (or the development ``mail.log_file``), and prints the relay's answer
when it fails: the quickest way to find a wrong port, a refused login or a missing TLS.
"""

from __future__ import annotations

from pathlib import Path

import click

from bastion.cli.common import project_option, run_with_service
from bastion.errors import BastionError, Code
from bastion.mail.transports import DeliveryFailed
from bastion.project.service import Service


@click.group("email")
def email() -> None:
    """Mail: check the settings."""


@email.command("test")
@click.argument("address")
@click.option("--locale", default=None, help="The language of the mail (en, fr...).")
@project_option
def test(address: str, locale: str | None, project_dir: Path) -> None:
    """Send a test mail to ADDRESS now, through the project's mail settings."""

    async def action(service: Service) -> str:
        outbox = service.auth.email.outbox
        recipient = service.store.emails.check(address)
        context = {"app": service.project.config.name}
        mail = outbox.templates.render("test", [locale], context)
        try:
            await outbox.send_now(recipient, mail)
        except DeliveryFailed as error:
            raise BastionError(
                f"the relay did not take the mail: {error}", Code.BAD_REQUEST
            ) from None
        return recipient

    sent_to = run_with_service(project_dir, action)
    click.echo(f"sent a test mail to {sent_to}")
