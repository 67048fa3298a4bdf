"""Stitch's OAuth 2 providers on Bastion's OpenID providers, against a real provider
(panva's oidc-provider): realm-web's ``Credentials.google({idToken})`` / ``apple(idToken)``
body, and its redirect flow (``GET …/login?redirect=&state=`` to the provider, back to
``/api/client/v2.0/auth/callback``, on to the app with ``_baas_*`` in the fragment).
Attacks: an ID token for another audience, a replayed one, an unknown provider (answered
like a disabled one), a redirect URL not allow-listed, a state carried to another browser."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
import yaml

from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, auth_for
from tests.e2e.conftest import Serve
from tests.e2e.openid_idp import APP_URL, CALLBACK, OTHER_CLIENT_ID, Idp, start_idp
from tests.e2e.test_sdks import sdk_folder

__all__ = ["auth_for", "sdk_folder"]

STITCH_CALLBACK = "http://testserver/api/client/v2.0/auth/callback"
STATE = "abcdefghijkl"  # realm-web's: 12 lowercase letters


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    folder = tmp_path_factory.mktemp("oidc")
    yield from start_idp(folder, folder / "idp.log", (CALLBACK, APP_URL, STITCH_CALLBACK))


@pytest.fixture
async def site(idp: Idp, auth_for: Callable[..., Any], clock: FrozenClock) -> Auth:
    clock.now = datetime.now(UTC)  # the provider signs with the real time
    openid = {
        "google": idp.settings(),
        "apple": idp.settings(),
        "off": idp.settings(enabled=False),
    }
    started: Auth = await auth_for(providers={"openid": openid})
    return started


def _app(site: Auth) -> str:
    return f"/api/client/v2.0/app/{site.service.project.config.app_id}"


async def _login(site: Auth, provider: str, body: dict[str, Any]) -> httpx.Response:
    device = {"sdkVersion": "2.0.1", "platform": "node", "platformVersion": "20"}
    return await site.client.http.post(
        f"{_app(site)}/auth/providers/{provider}/login",
        json={**body, "options": {"device": device}},
    )


async def _profile(site: Auth, access: str) -> dict[str, Any]:
    answer = await site.client.http.get(
        "/api/client/v2.0/auth/profile", headers={"Authorization": f"Bearer {access}"}
    )
    assert answer.status_code == 200, answer.text
    profile: dict[str, Any] = answer.json()
    return profile


async def test_an_id_token_logs_in_as_realm_webs_google_and_apple_credentials(
    site: Auth, idp: Idp
) -> None:
    token = await idp.id_token("alice", secrets.token_urlsafe(24))
    answer = await _login(site, "oauth2-google", {"id_token": token})
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"access_token", "refresh_token", "user_id", "device_id"}
    profile = await _profile(site, tokens["access_token"])
    assert profile["data"]["email"] == "alice@example.com"
    assert [i["provider_type"] for i in profile["identities"]] == ["openid:google"]
    # The same token again: its nonce is taken.
    again = await _login(site, "oauth2-google", {"id_token": token})
    assert (again.status_code, again.json()["error_code"]) == (401, "AuthError")
    # Credentials.apple(idToken): the same body shape, another provider, another identity.
    apple = await _login(site, "oauth2-apple", {"id_token": await idp.id_token("bob", "n-1")})
    assert apple.status_code == 200, apple.text
    # The session token of the Stitch API refreshes as for every Stitch login.
    refreshed = await site.client.http.post(
        "/api/client/v2.0/auth/session",
        headers={"Authorization": f"Bearer {apple.json()['refresh_token']}"},
    )
    assert refreshed.status_code == 201, refreshed.text


async def test_refused_id_tokens(site: Auth, idp: Idp) -> None:
    foreign = await idp.id_token("bob", "n-2", client_id=OTHER_CLIENT_ID)
    answer = await _login(site, "oauth2-google", {"id_token": foreign})
    assert (answer.status_code, answer.json()["error_code"]) == (401, "AuthError")
    head, payload, signature = (await idp.id_token("bob", "n-3")).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["email"] = "alice@example.com"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    answer = await _login(site, "oauth2-google", {"id_token": f"{head}.{forged}.{signature}"})
    assert (answer.status_code, answer.json()["error_code"]) == (401, "AuthError")
    for body in ({}, {"id_token": 7}, {"id_token": "not.a.token"}, {"authCode": "x"}):
        answer = await _login(site, "oauth2-google", body)
        assert answer.status_code in (400, 401), (body, answer.text)
        assert answer.headers["content-type"] == "application/json"


async def test_an_unknown_provider_answers_like_a_disabled_one(site: Auth, idp: Idp) -> None:
    token = await idp.id_token("bob", "n-4")
    unknown = await _login(site, "oauth2-nosuch", {"id_token": token})
    disabled = await _login(site, "oauth2-off", {"id_token": token})
    assert unknown.status_code == disabled.status_code == 404
    assert unknown.json()["error_code"] == disabled.json()["error_code"] == "AuthProviderNotFound"
    assert unknown.json()["error"].replace("nosuch", "off") == disabled.json()["error"]
    started = await site.client.http.get(
        f"{_app(site)}/auth/providers/oauth2-off/login",
        params={"redirect": APP_URL, "state": STATE},
    )
    assert started.status_code == 404


async def _redirect_flow(
    site: Auth, idp: Idp, login: str, browser: httpx.AsyncClient | None = None
) -> str:
    http = browser or site.client.http
    device = base64.b64encode(json.dumps({"sdkVersion": "2.0.1"}).encode()).decode()
    start = await http.get(
        f"{_app(site)}/auth/providers/oauth2-google/login",
        params={"redirect": APP_URL, "state": STATE, "device": device},
    )
    assert start.status_code == 302, start.text
    back = await idp.authorize(start.headers["location"], login)
    assert back.startswith(STITCH_CALLBACK + "?"), back
    done = await http.get(back.removeprefix("http://testserver"))
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    return location


async def test_the_redirect_flow_hands_realm_web_its_session_in_the_fragment(
    site: Auth, idp: Idp
) -> None:
    location = await _redirect_flow(site, idp, "alice")
    assert location.startswith(APP_URL + "#") and "?" not in location
    # As realm-web's decodeQueryString reads it.
    fragment = dict(pair.split("=") for pair in urlparse(location).fragment.split("&"))
    result = {key: unquote(value) for key, value in fragment.items()}
    assert result["_baas_state"] == STATE
    assert result["_baas_client_app_id"] == site.service.project.config.app_id
    access, refresh, user_id, device_id = result["_baas_ua"].split("$")
    profile = await _profile(site, access)
    assert (profile["user_id"], profile["data"]["email"]) == (user_id, "alice@example.com")
    assert len(device_id) == 24
    refreshed = await site.client.http.post(
        "/api/client/v2.0/auth/session", headers={"Authorization": f"Bearer {refresh}"}
    )
    assert refreshed.status_code == 201


async def test_a_redirect_url_not_allow_listed_is_refused(site: Auth) -> None:
    for redirect in ("https://evil.example/steal", APP_URL + "/more", ""):
        start = await site.client.http.get(
            f"{_app(site)}/auth/providers/oauth2-google/login",
            params={"redirect": redirect, "state": STATE},
        )
        assert start.status_code == 400, (redirect, start.text)
        assert "location" not in start.headers


async def test_a_flow_carried_to_another_browser_is_refused(site: Auth, idp: Idp) -> None:
    start = await site.client.http.get(
        f"{_app(site)}/auth/providers/oauth2-google/login",
        params={"redirect": APP_URL, "state": STATE},
    )
    back = await idp.authorize(start.headers["location"], "alice")
    # The victim's browser (no cookie of this flow) is sent the attacker's callback.
    transport = site.client.http._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        done = await other.get(back.removeprefix("http://testserver"))
    assert done.status_code == 400
    assert "location" not in done.headers


async def test_a_providers_refusal_reaches_realm_web_as_baas_error(site: Auth, idp: Idp) -> None:
    start = await site.client.http.get(
        f"{_app(site)}/auth/providers/oauth2-google/login",
        params={"redirect": APP_URL, "state": STATE},
    )
    state = parse_qs(urlparse(start.headers["location"]).query)["state"][0]
    refused = await site.client.http.get(
        "/api/client/v2.0/auth/callback", params={"state": state, "error": "access_denied"}
    )
    assert refused.status_code == 302
    fragment = parse_qs(urlparse(refused.headers["location"]).fragment)
    assert fragment == {"_baas_state": [STATE], "_baas_error": ["access_denied"]}


def test_realm_web_logs_in_with_google_and_apple_id_tokens(
    idp: Idp, sdk_folder: Path, serve: Serve, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    config = {
        "name": "oauth",
        "app_id": "oauth-app",
        "auth": {"providers": {"openid": {"google": idp.settings(), "apple": idp.settings()}}},
        "permissions": {"User": {"read": {"id": "$viewer.id"}}},
    }
    (root / "bastion.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "schema.graphql").write_text("type Note { text: String! }\n", encoding="utf-8")
    server = serve(str(root))
    tokens = {
        "google": asyncio.run(idp.id_token("alice", secrets.token_urlsafe(16))),
        "apple": asyncio.run(idp.id_token("bob", secrets.token_urlsafe(16))),
        "foreign": asyncio.run(idp.id_token("bob", "n-9", client_id=OTHER_CLIENT_ID)),
    }
    arguments = {"base": server.url, "appId": "oauth-app", **tokens}
    result = subprocess.run(
        ["node", "realm_web_oauth.js", json.dumps(arguments)],
        cwd=sdk_folder,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    steps = {s["step"]: s for s in map(json.loads, result.stdout.splitlines())}
    assert result.returncode == 0 and "done" in steps, (
        f"{steps.get('error')}\nstderr: {result.stderr}\nserver log:\n{server.log()}"
    )
    assert steps["google"]["email"] == "alice@example.com"
    assert steps["google"]["providers"] == ["openid:google"]
    assert steps["apple"]["email"] == "bob@example.com"
    assert steps["apple"]["id"] != steps["google"]["id"]
    refused = steps["refused"]
    assert (refused["replayed"]["statusCode"], refused["replayed"]["errorCode"]) == (
        401,
        "AuthError",
    )
    assert refused["foreign"]["errorCode"] == "AuthError"
    assert (refused["unknown"]["statusCode"], refused["unknown"]["errorCode"]) == (
        404,
        "AuthProviderNotFound",
    )
