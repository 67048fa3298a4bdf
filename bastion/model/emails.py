"""The built-in User's email: the one normal form every path stores and compares.

An address is one identity however it is typed, so ``Bob@Example.COM``, ``bob@example.com``
and the same text in another Unicode composition must be one account: stored once, unique in
the database, found by any of its spellings. The rule lives here, below the store, so that the
writer, the filters, the providers, the CLI and ``bastion deploy`` all apply the same one.

The normal form is email-validator's (syntax per RFC 5321/5322/6531, the domain through
IDNA/UTS-46 so ``xn--`` labels, full-width letters and capitals become one domain, no
invisible or control characters), then the local part lower-cased and NFC-composed. Lower-
casing the local part goes beyond the RFCs, which leave it to the mail server; every mail
service users meet ignores its case, and two accounts told apart only by it are an attack.

Look-alike addresses, which mix writing systems (a Cyrillic er, U+0440, in ``example.com``) or
use compatibility characters (full-width letters), are refused on write unless the project opts
in (``auth.emails.allow_mixed_scripts``); the scripts come from confusable-homoglyphs' table
of Unicode's Scripts.txt.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from confusable_homoglyphs import categories
from email_validator import EmailNotValidError, validate_email

from bastion.errors import BadUserInput

EMAIL_TYPE, EMAIL_FIELD = "User", "email"
"""The field whose values are addresses in the normal form."""

MAX_EMAIL_LENGTH = 254
"""RFC 5321's limit on a path, checked before anything parses the text."""

FORM_VERSION = "1"
"""Bumped when the normal form changes, so ``bastion deploy`` normalises stored rows again."""

# Characters that belong to every script (digits, punctuation) or to the one before them.
_NEUTRAL = frozenset({"COMMON", "INHERITED"})
# Unicode TS #39's "highly restrictive" mixes: the ways Japanese, Chinese and Korean are
# written (with Latin), which are no look-alikes of each other.
_USUAL_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


def _refuse(message: str) -> BadUserInput:
    return BadUserInput(message, field="email")


def normalize_email(value: str) -> str:
    """The address in its normal form; BAD_USER_INPUT when it is not an address."""
    text = value.strip()
    if len(text) > MAX_EMAIL_LENGTH:
        raise _refuse(f"The email address is longer than {MAX_EMAIL_LENGTH} characters.")
    try:
        text.encode("utf-8")  # lone surrogates: neither SQLite nor the parser can take them
        found = validate_email(text, check_deliverability=False, test_environment=True)
    except UnicodeEncodeError:
        raise _refuse("The email address is not valid Unicode text.") from None
    except EmailNotValidError as error:
        raise _refuse(str(error)) from None
    return f"{_folded(found.local_part)}@{found.domain}"


def email_key(value: str) -> str:
    """The form to store or look ``value`` up in: never raises.

    The normal form for an address; for text that is none (a login typed wrong, a row kept
    from before the rule) the same text trimmed, lower-cased and NFC-composed, which no valid
    address normalises to, so it can only find itself.
    """
    try:
        return normalize_email(value)
    except BadUserInput:
        return _folded(value.strip())


def mixed_scripts(address: str) -> list[str]:
    """The writing systems a look-alike address mixes (empty when it mixes none).

    The local part and the domain are judged apart (``ivan@пример.рф`` is one script each);
    the domain as a whole, so an all-Cyrillic look-alike of ``apple`` before ``.com`` counts.
    """
    local, _, domain = address.rpartition("@")
    for part in (local, domain):
        scripts = set(categories.unique_aliases(part)) - _NEUTRAL
        if len(scripts) > 1 and not any(scripts <= mix for mix in _USUAL_MIXES):
            return sorted(s.title() for s in scripts)
    return []


@dataclass(frozen=True)
class EmailRules:
    """What a project accepts as a new address (``auth.emails`` of ``bastion.yml``)."""

    allow_mixed_scripts: bool = False

    def check(self, value: str) -> str:
        """The normal form of a new address; BAD_USER_INPUT for a bad or look-alike one."""
        email = normalize_email(value)
        if self.allow_mixed_scripts:
            return email
        scripts = mixed_scripts(email)
        if scripts:
            raise _refuse(
                f"The email address mixes writing systems ({', '.join(scripts)}), "
                "as look-alike addresses do."
            )
        if unicodedata.normalize("NFKC", email) != email:
            raise _refuse(
                "The email address holds compatibility characters (full-width or styled "
                "letters), as look-alike addresses do."
            )
        return email
