"""``auth.providers.openid`` entries: presets fill in what they know, OAuth 2 and OpenID
Connect settings are not mixed, and what is missing is said at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bastion.auth.openid_settings import OpenIdProviderConfig


def _config(**settings: object) -> OpenIdProviderConfig:
    return OpenIdProviderConfig.model_validate({"client_id": "app", **settings})


def test_github_is_oauth2_with_its_endpoints() -> None:
    github = _config(preset="github")
    assert not github.has_id_token and github.response_mode == "query"
    assert github.userinfo_endpoint == "https://api.github.com/user"
    assert github.emails_endpoint == "https://api.github.com/user/emails"
    assert github.scope == "read:user user:email"
    assert github.userinfo_claims["sub"] == "id"


def test_apple_answers_by_form_post() -> None:
    apple = _config(preset="apple")
    assert apple.has_id_token and apple.form_post and apple.issuer == "https://appleid.apple.com"
    assert not _config(preset="google").form_post


def test_a_generic_oauth2_provider_names_its_endpoints() -> None:
    plain = _config(
        type="oauth2",
        authorization_endpoint="https://id.example.com/authorize",
        token_endpoint="https://id.example.com/token",
        userinfo_endpoint="https://id.example.com/me",
        userinfo_claims={"sub": "user_id"},
    )
    assert plain.userinfo_claims == {
        "sub": "user_id",
        "email": "email",
        "email_verified": "email_verified",
        "name": "name",
    }
    assert plain.scope == ""


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type": "oauth2"}, "needs authorization_endpoint, token_endpoint, userinfo_endpoint"),
        ({"preset": "github", "type": "oidc"}, "github preset is OAuth 2"),
        ({"preset": "google", "type": "oauth2"}, "google preset is OpenID Connect"),
        ({"preset": "github", "jwks_uri": "https://x.test/k"}, "jwks_uri and audiences"),
        ({"issuer": "https://x.test", "userinfo_endpoint": "https://x.test/u"}, "are oauth2's"),
        ({"preset": "github", "userinfo_claims": {"subject": "id"}}, "userinfo_claims.subject"),
        ({"preset": "github", "response_mode": "fragment"}, "response_mode"),
    ],
)
def test_mistakes_are_refused_at_start(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _config(**settings)
    assert message in str(refused.value)
