"""The normal form of an email address, and the look-alikes a project refuses by default."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.errors import BadUserInput
from bastion.model.emails import EmailRules, email_key, mixed_scripts, normalize_email


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("bob@example.com", "bob@example.com"),
        ("  BOB@EXAMPLE.COM\t", "bob@example.com"),
        ("Bob.Smith+Tag@Mail.Example.COM", "bob.smith+tag@mail.example.com"),
        # The same letters, composed or not: one address.
        ("jose\u0301@example.com", "jos\u00e9@example.com"),
        ("JOS\u00c9@example.com", "jos\u00e9@example.com"),
        # IDNA: full-width letters and a Punycode label are spellings of one domain.
        ("bob@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "bob@example.com"),
        ("ivan@xn--e1afmkfd.xn--p1ai", "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"),
        ("ann@idp.test", "ann@idp.test"),
    ],
)
def test_spellings_of_one_address_have_one_form(typed: str, stored: str) -> None:
    assert normalize_email(typed) == stored
    assert email_key(typed) == stored


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@",
        "ann@",
        "@example.com",
        "ann@@example.com",
        "ann example@example.com",
        "bob\u200b@example.com",  # an invisible space
        "bob@example.com\x00",
        "bob\ud800@example.com",  # a lone surrogate
        "x" * 250 + "@example.com",
        "ann@localhost",
    ],
)
def test_what_is_no_address_is_refused(text: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        normalize_email(text)
    assert refused.value.extensions == {"field": "email"}


@given(st.text(max_size=40))
def test_the_lookup_form_never_raises_and_is_stable(text: str) -> None:
    key = email_key(text)
    assert email_key(key) == key
    assert unicodedata.is_normalized("NFC", key)


@given(st.from_regex(r"[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,12}\.[A-Za-z]{2,6}", fullmatch=True))
def test_any_casing_of_an_address_is_the_same_address(address: str) -> None:
    try:
        stored = normalize_email(address)
    except BadUserInput:
        return  # "a..b@x.com" and the like are no addresses in any casing
    assert normalize_email(address.upper()) == stored == normalize_email(stored)
    assert stored == stored.lower()


@pytest.mark.parametrize(
    ("address", "scripts"),
    [
        ("bob@ex\u0430mple.com", ["Cyrillic", "Latin"]),  # a Cyrillic a among Latin letters
        ("b\u043eb@example.com", ["Cyrillic", "Latin"]),
        ("bob@\u0430\u0440\u0440\u04cf\u0435.com", ["Cyrillic", "Latin"]),  # all-Cyrillic label
        ("\u03b1lice@example.com", ["Greek", "Latin"]),
        ("bob@example.com", []),
        ("ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", []),  # one script per part
        ("yamada@\u6771\u4eac.jp", []),  # Han with Latin: how Japanese domains are written
        ("\u5c71\u7530\u305f\u308d\u3046@example.jp", []),  # Han and Hiragana
    ],
)
def test_mixed_scripts(address: str, scripts: list[str]) -> None:
    assert mixed_scripts(address) == scripts


def test_look_alikes_are_refused_unless_the_project_allows_them() -> None:
    for lookalike in ("bob@ex\u0430mple.com", "\uff42\uff4f\uff42@example.com"):
        with pytest.raises(BadUserInput, match="look-alike"):
            EmailRules().check(lookalike)
        assert EmailRules(allow_mixed_scripts=True).check(lookalike) == normalize_email(lookalike)
    assert EmailRules().check("Ivan@\u041f\u0440\u0438\u043c\u0435\u0440.\u0420\u0424") == (
        "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"
    )
