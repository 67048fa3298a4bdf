"""Mail templates: shipped in English and French, overridable by the project, HTML
autoescaped, the subject on one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ProjectError
from bastion.mail.templates import MailTemplates

CONTEXT = {
    "app": "Shop",
    "email": "ann@example.com",
    "link": "https://app.example.com/auth?action=confirm&tokenId=1&token=2",
    "token_id": "1",
    "token": "2",
    "code": None,
    "minutes": 30,
}


def test_the_shipped_templates_speak_english_and_french() -> None:
    templates = MailTemplates(None)
    assert {"en", "fr"} <= templates.locales
    english = templates.render("confirm", [], CONTEXT)
    assert (english.locale, english.subject) == ("en", "Confirm your address for Shop")
    assert CONTEXT["link"] in english.text
    french = templates.render("confirm", ["fr-FR"], CONTEXT)
    assert french.subject == "Confirmez votre adresse pour Shop"
    assert french.html is not None and 'lang="fr"' in french.html


def test_html_is_escaped_and_the_subject_is_one_line() -> None:
    templates = MailTemplates(None)
    hostile = {**CONTEXT, "app": "Shop\r\nBcc: all@example.com <script>x</script>"}
    mail = templates.render("confirm", [], hostile)
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.html is not None
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html
    # The link's ampersands are escaped in HTML, as an attribute must have them.
    assert "action=confirm&amp;tokenId=1" in mail.html


def test_a_project_overrides_one_part_and_adds_a_locale(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "confirm.subject.txt").write_text("Welcome to {{ app }}!\n")
    (tmp_path / "de").mkdir()
    for part, text in (("subject.txt", "Willkommen"), ("txt", "Hallo {{ email }}")):
        (tmp_path / "de" / f"confirm.{part}").write_text(text)
    templates = MailTemplates(tmp_path)
    mail = templates.render("confirm", [], CONTEXT)
    assert mail.subject == "Welcome to Shop!"
    assert "Confirm that ann@example.com" in mail.text  # the shipped body stays
    german = templates.render("confirm", ["de"], CONTEXT)
    assert (german.subject, german.text, german.html) == (
        "Willkommen",
        "Hallo ann@example.com",
        None,
    )
    # A locale without the mail falls back to the default.
    assert templates.render("reset", ["de"], CONTEXT).locale == "en"


def test_an_unknown_default_locale_is_a_project_error() -> None:
    with pytest.raises(ProjectError, match="no templates for 'xx'"):
        MailTemplates(None, "xx")
