"""A plain OAuth 2 provider's userinfo answer as claims: the subject required, the address
verified only where the provider says so (GitHub: the primary entry of /user/emails)."""

from __future__ import annotations

import pytest

from bastion.auth.openid.identity import OpenIdIdentity, apple_user
from bastion.auth.openid.userinfo import UserinfoRefused, primary_email, standard_claims
from bastion.auth.openid_settings import OpenIdProviderConfig

GITHUB = OpenIdProviderConfig.model_validate({"preset": "github", "client_id": "Iv1.x"})
DISCORD = OpenIdProviderConfig.model_validate({"preset": "discord", "client_id": "1"})


def test_github_numbers_its_people() -> None:
    info = {"id": 583231, "login": "octocat", "name": "The Octocat", "email": "o@example.com"}
    claims = standard_claims(info, GITHUB.userinfo_claims)
    assert claims["sub"] == "583231" and claims["name"] == "The Octocat"
    # /user's public address says nothing about verification: it is not taken as verified.
    identity = OpenIdIdentity.of("openid:github", claims)
    assert identity.email is None and identity.claims["login"] == "octocat"


def test_discord_says_verified_in_its_own_words() -> None:
    info = {"id": "80351110224678912", "email": "n@example.com", "verified": True}
    identity = OpenIdIdentity.of("openid:discord", standard_claims(info, DISCORD.userinfo_claims))
    assert identity.subject == "80351110224678912" and identity.email == "n@example.com"
    info["verified"] = False
    unverified = OpenIdIdentity.of("openid:d", standard_claims(info, DISCORD.userinfo_claims))
    assert unverified.email is None


def test_a_flag_elsewhere_than_the_mapped_place_counts_for_nothing() -> None:
    # Discord's answer carrying an `email_verified` key of its own is not believed.
    info = {"id": "1", "email": "n@example.com", "verified": False, "email_verified": True}
    claims = standard_claims(info, DISCORD.userinfo_claims)
    assert OpenIdIdentity.of("openid:d", claims).email is None


@pytest.mark.parametrize("subject", [None, "", True, 1.5, {"id": 1}, "x" * 256])
def test_no_subject_no_sign_in(subject: object) -> None:
    with pytest.raises(UserinfoRefused) as refused:
        standard_claims({"id": subject, "email": "a@example.com"}, GITHUB.userinfo_claims)
    assert refused.value.reason == "no subject"


def test_the_primary_address_and_its_flag() -> None:
    entries = [
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "me@example.com", "primary": True, "verified": False},
    ]
    assert primary_email(entries) == ("me@example.com", False)
    entries[1]["verified"] = True
    assert primary_email(entries) == ("me@example.com", True)
    assert primary_email([{"email": "a@example.com", "verified": True}]) == (None, False)
    with pytest.raises(UserinfoRefused):
        primary_email({"email": "a@example.com"})


def test_apples_user_gives_a_name_and_nothing_else() -> None:
    text = '{"name": {"firstName": "Ada", "lastName": "Lovelace"}, "email": "x@evil.test"}'
    assert apple_user(text) == {"name": {"firstName": "Ada", "lastName": "Lovelace"}}
    for bad in ("", "not json", "[1]", '{"name": "Ada"}', '{"name": {"firstName": 3}}', "x" * 5000):
        assert apple_user(bad) is None
