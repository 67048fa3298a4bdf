"""Sign-in with a real OpenID provider (panva's oidc-provider, started by the test): the
browser flow to a one-time code, the app's own calls, account linking, and the attacks of
issue 22 (a swapped state, a replayed or foreign nonce, an ID token for another audience, an
unverified email reaching for an account)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, auth_for, error_code
from tests.auth.factors.oath import oathtool_code
from tests.e2e.openid_idp import APP_URL, OTHER_CLIENT_ID, Idp, s256, start_idp

__all__ = ["auth_for"]

CODE_LOGIN = """
mutation ($code: String!, $verifier: String!, $link: Boolean) {
  loginOpenIdCode(input: {code: $code, codeVerifier: $verifier, link: $link}) { accessToken }
}
"""
TOKEN_LOGIN = """
mutation ($token: String, $nonce: String!, $link: Boolean, $code: String, $verifier: String,
          $redirect: String) {
  loginOpenId(input: {provider: "local", idToken: $token, nonce: $nonce, link: $link,
                      code: $code, codeVerifier: $verifier, redirectUri: $redirect}) {
    accessToken
  }
}
"""
ME = "{ viewer { user { id email firstName } identities { provider } } }"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    folder = tmp_path_factory.mktemp("oidc")
    yield from start_idp(folder, folder / "idp.log")


@pytest.fixture
async def site(idp: Idp, auth_for: Callable[..., Any], clock: FrozenClock) -> Auth:
    clock.now = datetime.now(UTC)  # the provider signs with the real time
    started: Auth = await auth_for(providers={"openid": {"local": idp.settings()}})
    return started


async def _browser_flow(
    site: Auth, idp: Idp, login: str, verifier: str, http: httpx.AsyncClient | None = None
) -> str:
    """Run the browser flow as ``login``; the app URL Bastion sends the browser back to."""
    browser = http or site.client.http
    start = await browser.get(
        "/auth/openid/local/start",
        params={"redirect_url": APP_URL, "code_challenge": s256(verifier)},
    )
    assert start.status_code == 302, start.text
    back = await idp.authorize(start.headers["location"], login)
    assert back.startswith("http://testserver/auth/openid/local/callback?"), back
    done = await browser.get(back.removeprefix("http://testserver"))
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    return location


def _code_of(location: str) -> str:
    assert location.startswith(APP_URL + "#"), location
    assert "?" not in location  # nothing in a query, where servers log it
    return parse_qs(urlparse(location).fragment)["bastion_code"][0]


async def _me(site: Auth, token: str) -> dict[str, Any]:
    body = await site.gql(ME, token=token)
    assert "errors" not in body, body
    viewer: dict[str, Any] = body["data"]["viewer"]
    return viewer


async def test_browser_flow_signs_up_and_in_with_a_one_time_code(site: Auth, idp: Idp) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "alice", verifier))
    body = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenIdCode"]["accessToken"])
    assert me["user"]["email"] == "alice@example.com"
    assert me["user"]["firstName"] == "Alice"  # claims mapped by configuration
    assert me["identities"] == [{"provider": "openid:local"}]
    # The code is single use; a second sign-in finds the same user.
    again = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert error_code(again) == "INVALID_CREDENTIALS"
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "alice", verifier))
    second = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    token = second["data"]["loginOpenIdCode"]["accessToken"]
    assert (await _me(site, token))["user"]["id"] == me["user"]["id"]


async def test_the_one_time_code_needs_the_apps_verifier(site: Auth, idp: Idp) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "alice", verifier))
    stolen = await site.gql(CODE_LOGIN, {"code": code, "verifier": secrets.token_urlsafe(48)})
    assert error_code(stolen) == "INVALID_CREDENTIALS"


async def test_a_swapped_state_is_refused(site: Auth, idp: Idp) -> None:
    """The provider's answer to one browser's flow, delivered in another browser."""
    verifier = secrets.token_urlsafe(48)
    start = await site.client.http.get(
        "/auth/openid/local/start",
        params={"redirect_url": APP_URL, "code_challenge": s256(verifier)},
    )
    back = await idp.authorize(start.headers["location"], "alice")
    transport = site.client.http._transport  # the same app, another cookie jar
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        swapped = await other.get(back.removeprefix("http://testserver"))
    assert swapped.status_code == 400 and "start again" in swapped.text
    # The flow is spent: the right browser cannot finish it after the attempt either.
    late = await site.client.http.get(back.removeprefix("http://testserver"))
    assert late.status_code == 400
    # A state nobody issued.
    forged = back.replace("state=", "state=x")
    assert (await site.client.http.get(forged.removeprefix("http://testserver"))).status_code == 400


async def test_an_unlisted_redirect_url_is_refused(site: Auth) -> None:
    start = await site.client.http.get(
        "/auth/openid/local/start",
        params={"redirect_url": "https://evil.test/", "code_challenge": s256("v" * 43)},
    )
    assert start.status_code == 400 and "location" not in start.headers


async def test_id_token_login_takes_a_nonce_once(site: Auth, idp: Idp) -> None:
    nonce = secrets.token_urlsafe(24)
    token = await idp.id_token("bob", nonce)
    first = await site.gql(TOKEN_LOGIN, {"token": token, "nonce": nonce})
    assert "errors" not in first, first
    replayed = await site.gql(TOKEN_LOGIN, {"token": token, "nonce": nonce})
    assert error_code(replayed) == "INVALID_CREDENTIALS"


async def test_a_foreign_nonce_is_refused(site: Auth, idp: Idp) -> None:
    token = await idp.id_token("bob", secrets.token_urlsafe(24))
    body = await site.gql(TOKEN_LOGIN, {"token": token, "nonce": secrets.token_urlsafe(24)})
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert body["errors"][0]["extensions"]["reason"].startswith("invalid_claim")


async def test_an_id_token_for_another_audience_is_refused(site: Auth, idp: Idp) -> None:
    nonce = secrets.token_urlsafe(24)
    token = await idp.id_token("bob", nonce, client_id=OTHER_CLIENT_ID)
    body = await site.gql(TOKEN_LOGIN, {"token": token, "nonce": nonce})
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert "aud" in body["errors"][0]["extensions"]["reason"]


async def test_a_tampered_id_token_is_refused(site: Auth, idp: Idp) -> None:
    nonce = secrets.token_urlsafe(24)
    head, payload, signature = (await idp.id_token("bob", nonce)).split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    body = await site.gql(TOKEN_LOGIN, {"token": forged, "nonce": nonce})
    assert error_code(body) == "INVALID_CREDENTIALS"


async def test_the_app_may_send_its_own_code(site: Auth, idp: Idp) -> None:
    nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    code = await idp.code("bob", nonce, verifier)
    body = await site.gql(
        TOKEN_LOGIN, {"code": code, "verifier": verifier, "nonce": nonce, "redirect": APP_URL}
    )
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenId"]["accessToken"])
    assert me["user"]["email"] == "bob@example.com"


async def test_an_unverified_email_takes_no_account(site: Auth, idp: Idp) -> None:
    victim = (await site.register("victim@example.com"))["accessToken"]
    victim_id = (await _me(site, victim))["user"]["id"]
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "mallory", verifier))
    body = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenIdCode"]["accessToken"])
    assert me["user"]["id"] != victim_id and me["user"]["email"] is None
    # Nor can a logged-in user link an identity whose address nobody checked.
    nonce = secrets.token_urlsafe(24)
    token = await idp.id_token("mallory", nonce)
    linked = await site.post(TOKEN_LOGIN, {"token": token, "nonce": nonce, "link": True}, victim)
    assert error_code(linked.json()) in ("FORBIDDEN", "CONFLICT")


async def test_a_verified_email_links_only_with_the_accounts_proof(site: Auth, idp: Idp) -> None:
    password_token = (await site.register("victim@example.com"))["accessToken"]
    victim_id = (await _me(site, password_token))["user"]["id"]
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "victim", verifier))
    refused = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert error_code(refused) == "CONFLICT"
    assert refused["errors"][0]["extensions"]["reason"] == "ACCOUNT_EXISTS"
    # Logged in with the password, the person links the provider.
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "victim", verifier))
    linked = await site.gql(
        CODE_LOGIN, {"code": code, "verifier": verifier, "link": True}, password_token
    )
    assert "errors" not in linked, linked
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "victim", verifier))
    again = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert (await _me(site, again["data"]["loginOpenIdCode"]["accessToken"]))["user"][
        "id"
    ] == victim_id


async def test_an_anonymous_user_keeps_their_id(
    idp: Idp, auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    clock.now = datetime.now(UTC)
    providers = {"openid": {"local": idp.settings()}, "anon-user": {"enabled": True}}
    site: Auth = await auth_for(providers=providers)
    anon = await site.gql("mutation { loginAnonymous { accessToken } }")
    anon_token = anon["data"]["loginAnonymous"]["accessToken"]
    anon_id = (await _me(site, anon_token))["user"]["id"]
    nonce = secrets.token_urlsafe(24)
    token = await idp.id_token("alice", nonce)
    body = await site.gql(TOKEN_LOGIN, {"token": token, "nonce": nonce}, anon_token)
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenId"]["accessToken"])
    assert me["user"] == {"id": anon_id, "email": "alice@example.com", "firstName": "Alice"}
    assert {i["provider"] for i in me["identities"]} == {"anon-user", "openid:local"}


async def test_a_user_with_totp_answers_the_challenge(
    site: Auth, idp: Idp, clock: FrozenClock
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "alice", verifier))
    token = (await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier}))["data"][
        "loginOpenIdCode"
    ]["accessToken"]
    enrol = await site.gql("mutation { enrolTotp(input: {}) { secret } }", token=token)
    secret = enrol["data"]["enrolTotp"]["secret"]
    confirm = "mutation ($c: String!) { confirmTotp(input: {code: $c}) }"
    assert "errors" not in await site.gql(confirm, {"c": oathtool_code(secret, clock())}, token)
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _browser_flow(site, idp, "alice", verifier))
    body = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert error_code(body) == "MFA_REQUIRED"
    clock.advance(30)
    complete = """
    mutation ($ch: String!, $c: String!) {
      completeMfaLogin(input: {challenge: $ch, code: $c}) { accessToken }
    }
    """
    challenge = body["errors"][0]["extensions"]["challenge"]
    done = await site.gql(complete, {"ch": challenge, "c": oathtool_code(secret, clock())})
    assert "errors" not in done, done


async def test_an_id_token_needs_its_nonce(site: Auth, idp: Idp) -> None:
    token = await idp.id_token("bob", secrets.token_urlsafe(24))
    query = """
    mutation ($t: String) { loginOpenId(input: {provider: "local", idToken: $t}) { accessToken } }
    """
    body = await site.gql(query, {"t": token})
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "nonce"
