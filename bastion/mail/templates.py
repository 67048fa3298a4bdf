"""Mails from Jinja2 templates: a subject, a text body and an HTML body, per locale.

Each mail ``NAME`` has three templates in a locale's folder: ``NAME.subject.txt``,
``NAME.txt`` and ``NAME.html``. The project's folder (``mail.templates``, ``emails/`` by
default) is searched before the shipped one (``bastion/mail/templates``), file by file, so a
project may override one mail, one part or add a locale. HTML is autoescaped: a first name
like ``<script>`` arrives as text. The subject is folded to one line, so nothing a user typed
can start a new header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from bastion.errors import ProjectError
from bastion.mail.locales import choose

SHIPPED = Path(__file__).parent / "templates"
MAX_SUBJECT = 200


@dataclass(frozen=True)
class Rendered:
    """A mail's parts, ready for the outbox."""

    locale: str
    subject: str
    text: str
    html: str | None


class MailTemplates:
    """The templates of one project."""

    def __init__(self, project_folder: Path | None, default_locale: str = "en") -> None:
        folders = [project_folder] if project_folder is not None and project_folder.is_dir() else []
        self._env = Environment(
            loader=ChoiceLoader(
                [
                    *(FileSystemLoader(str(folder)) for folder in folders),
                    PackageLoader("bastion.mail", "templates"),
                ]
            ),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.locales = frozenset(
            entry.name
            for folder in (*folders, SHIPPED)
            for entry in folder.iterdir()
            if entry.is_dir() and not entry.name.startswith((".", "_"))
        )
        if default_locale not in self.locales:
            raise ProjectError(
                [
                    f"mail.default_locale: no templates for {default_locale!r} "
                    f"(have {', '.join(sorted(self.locales))})"
                ]
            )
        self.default_locale = default_locale

    def render(self, name: str, wanted: list[str | None], context: dict[str, Any]) -> Rendered:
        """Mail ``name`` in the first of ``wanted`` locales that has it (else the default)."""
        locale = choose(wanted, self.locales, self.default_locale)
        try:
            subject = self._env.get_template(f"{locale}/{name}.subject.txt").render(context)
        except TemplateNotFound:
            locale = self.default_locale
            subject = self._env.get_template(f"{locale}/{name}.subject.txt").render(context)
        text = self._env.get_template(f"{locale}/{name}.txt").render(context)
        try:
            html: str | None = self._env.get_template(f"{locale}/{name}.html").render(context)
        except TemplateNotFound:
            html = None  # a project may send text only
        return Rendered(locale, one_line(subject)[:MAX_SUBJECT], text, html)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (line breaks included) made one space."""
    return " ".join(text.split())
