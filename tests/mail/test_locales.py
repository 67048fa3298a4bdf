"""Accept-Language read as RFC 9110 says, and the choice among the locales at hand."""

from __future__ import annotations

from bastion.mail.locales import accepted, choose


def test_tags_come_by_falling_weight_then_by_order() -> None:
    assert accepted("en;q=0.5, fr-CH, de;q=0.9, fr") == ["fr-CH", "fr", "de", "en"]


def test_junk_zero_weights_and_floods_are_dropped() -> None:
    assert accepted(None) == []
    assert accepted("fr;q=0, <script>, en;q=abc, es;q=2, it") == ["it"]
    assert len(accepted("fr," * 100_000)) < 300  # capped before it is parsed


def test_the_first_available_wins_region_falling_back_to_its_language() -> None:
    available = {"en", "fr"}
    assert choose(["fr-CH", "en"], available, "en") == "fr"
    assert choose([None, "de", "EN-gb"], available, "fr") == "en"
    assert choose(["de", "pt_BR"], available, "en") == "en"
