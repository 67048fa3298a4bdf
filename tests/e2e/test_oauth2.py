"""Sign-in with a plain OAuth 2 provider (no ID token: the person is read from the userinfo
endpoint) and with a provider answering by form POST (Apple's ``response_mode=form_post``),
against a real server: panva's oidc-provider, started by the test. The attacks of issue 22:
a swapped state, a code issued to another client, an unverified address reaching for an
account, a userinfo answer without a subject, a form POST without the flow's cookie."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bastion.tools.clock import FrozenClock
from tests.auth.conftest import Auth, auth_for, error_code
from tests.e2e.openid_idp import APP_URL, CALLBACK, OTHER_CLIENT_ID, Idp, s256, start_idp

__all__ = ["auth_for"]

BASE = "http://testserver"
# A SameSite=None cookie is Secure: the form_post flow's browser speaks https to Bastion.
SECURE_BASE = "https://testserver"
CODE_LOGIN = """
mutation ($code: String!, $verifier: String!, $link: Boolean) {
  loginOpenIdCode(input: {code: $code, codeVerifier: $verifier, link: $link}) { accessToken }
}
"""
APP_LOGIN = """
mutation ($provider: String!, $code: String!, $verifier: String!, $token: String,
          $link: Boolean) {
  loginOpenId(input: {provider: $provider, code: $code, codeVerifier: $verifier,
                      redirectUri: "http://app.test/signed-in", idToken: $token, link: $link}) {
    accessToken
  }
}
"""
ME = "{ viewer { user { id email firstName lastName } identities { provider } } }"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    folder = tmp_path_factory.mktemp("oidc")
    callbacks = [f"{BASE}/auth/openid/plain/callback", f"{SECURE_BASE}/auth/openid/apple/callback"]
    yield from start_idp(folder, folder / "idp.log", [CALLBACK, APP_URL, *callbacks])


@pytest.fixture
async def site(idp: Idp, auth_for: Callable[..., Any], clock: FrozenClock) -> Auth:
    clock.now = datetime.now(UTC)  # the provider signs with the real time
    apple = idp.settings(
        response_mode="form_post",
        claims={"firstName": "user.name.firstName", "lastName": "user.name.lastName"},
    )
    providers = {"openid": {"plain": idp.oauth_settings(), "apple": apple}}
    started: Auth = await auth_for(providers=providers)
    return started


async def _start(browser: httpx.AsyncClient, name: str, verifier: str) -> str:
    start = await browser.get(
        f"/auth/openid/{name}/start",
        params={"redirect_url": APP_URL, "code_challenge": s256(verifier)},
    )
    assert start.status_code == 302, start.text
    location: str = start.headers["location"]
    return location


async def _plain_flow(site: Auth, idp: Idp, login: str, verifier: str) -> str:
    """The browser flow with the OAuth 2 provider; where Bastion sends the browser back."""
    url = await _start(site.client.http, "plain", verifier)
    assert "nonce=" not in url  # no ID token, so no nonce
    back = await idp.authorize(url, login)
    assert back.startswith(f"{BASE}/auth/openid/plain/callback?"), back
    done = await site.client.http.get(back.removeprefix(BASE))
    assert done.status_code == 302, done.text
    location: str = done.headers["location"]
    return location


def _code_of(location: str) -> str:
    assert location.startswith(APP_URL + "#bastion_code="), location
    return parse_qs(urlparse(location).fragment)["bastion_code"][0]


async def _me(site: Auth, token: str) -> dict[str, Any]:
    body = await site.gql(ME, token=token)
    assert "errors" not in body, body
    viewer: dict[str, Any] = body["data"]["viewer"]
    return viewer


async def _sign_in(site: Auth, idp: Idp, login: str, link_token: str | None = None) -> Any:
    verifier = secrets.token_urlsafe(48)
    code = _code_of(await _plain_flow(site, idp, login, verifier))
    variables = {"code": code, "verifier": verifier, "link": link_token is not None}
    return await site.gql(CODE_LOGIN, variables, link_token)


async def test_oauth2_browser_flow_reads_the_person_from_userinfo(site: Auth, idp: Idp) -> None:
    body = await _sign_in(site, idp, "alice")
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenIdCode"]["accessToken"])
    assert me["user"]["email"] == "alice@example.com"  # verified, by the userinfo answer
    assert me["user"]["firstName"] == "Alice"
    assert me["identities"] == [{"provider": "openid:plain"}]
    again = await _sign_in(site, idp, "alice")
    assert (await _me(site, again["data"]["loginOpenIdCode"]["accessToken"]))["user"]["id"] == me[
        "user"
    ]["id"]


async def test_the_app_may_send_its_own_code(site: Auth, idp: Idp) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await idp.code("bob", secrets.token_urlsafe(16), verifier)
    body = await site.gql(APP_LOGIN, {"provider": "plain", "code": code, "verifier": verifier})
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenId"]["accessToken"])
    assert me["user"]["email"] == "bob@example.com"


async def test_a_code_for_another_client_is_refused(site: Auth, idp: Idp) -> None:
    verifier = secrets.token_urlsafe(48)
    code = await idp.code("bob", secrets.token_urlsafe(16), verifier, client_id=OTHER_CLIENT_ID)
    body = await site.gql(APP_LOGIN, {"provider": "plain", "code": code, "verifier": verifier})
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert body["errors"][0]["extensions"]["reason"] == "token endpoint: invalid_grant"


async def test_an_id_token_is_not_what_an_oauth2_provider_takes(site: Auth, idp: Idp) -> None:
    token = await idp.id_token("bob", secrets.token_urlsafe(16))
    variables = {"provider": "plain", "code": "c", "verifier": "v" * 43, "token": token}
    body = await site.gql(APP_LOGIN, variables)
    assert error_code(body) == "BAD_USER_INPUT"


async def test_a_swapped_state_is_refused(site: Auth, idp: Idp) -> None:
    url = await _start(site.client.http, "plain", secrets.token_urlsafe(48))
    back = await idp.authorize(url, "alice")
    transport = site.client.http._transport  # the same app, another cookie jar
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as other:
        swapped = await other.get(back.removeprefix(BASE))
    assert swapped.status_code == 400 and "start again" in swapped.text
    late = await site.client.http.get(back.removeprefix(BASE))
    assert late.status_code == 400  # the flow is spent


async def test_a_userinfo_answer_without_a_subject_signs_nobody_in(site: Auth, idp: Idp) -> None:
    location = await _plain_flow(site, idp, "ghost", secrets.token_urlsafe(48))
    assert location == f"{APP_URL}#error=INVALID_CREDENTIALS"
    verifier = secrets.token_urlsafe(48)
    code = await idp.code("ghost", secrets.token_urlsafe(16), verifier)
    body = await site.gql(APP_LOGIN, {"provider": "plain", "code": code, "verifier": verifier})
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert body["errors"][0]["extensions"]["reason"] == "no subject"


async def test_an_unverified_email_takes_no_account(site: Auth, idp: Idp) -> None:
    victim = (await site.register("victim@example.com"))["accessToken"]
    victim_id = (await _me(site, victim))["user"]["id"]
    body = await _sign_in(site, idp, "mallory")  # says victim@example.com, unverified
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenIdCode"]["accessToken"])
    assert me["user"]["id"] != victim_id and me["user"]["email"] is None
    # Logged in as the victim, linking mallory's identity is refused as well: it is taken,
    # and its address is unverified.
    linked = await _sign_in(site, idp, "mallory", link_token=victim)
    assert error_code(linked) in ("FORBIDDEN", "CONFLICT")
    assert (await _me(site, victim))["identities"] == [{"provider": "local-userpass"}]


async def test_a_verified_email_links_only_with_the_accounts_proof(site: Auth, idp: Idp) -> None:
    password_token = (await site.register("victim@example.com"))["accessToken"]
    victim_id = (await _me(site, password_token))["user"]["id"]
    refused = await _sign_in(site, idp, "victim")
    assert error_code(refused) == "CONFLICT"
    assert refused["errors"][0]["extensions"]["reason"] == "ACCOUNT_EXISTS"
    linked = await _sign_in(site, idp, "victim", link_token=password_token)
    assert "errors" not in linked, linked
    again = await _sign_in(site, idp, "victim")
    token = again["data"]["loginOpenIdCode"]["accessToken"]
    assert (await _me(site, token))["user"]["id"] == victim_id


# -- response_mode=form_post (Apple) ----------------------------------------------------------


@pytest.fixture
async def browser(site: Auth) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on Bastion's https address (Secure cookies go only there)."""
    transport = site.client.http._transport
    async with httpx.AsyncClient(transport=transport, base_url=SECURE_BASE) as secure:
        yield secure


async def _form_post(
    idp: Idp, login: str, verifier: str, starts: httpx.AsyncClient, posts: httpx.AsyncClient
) -> httpx.Response:
    """The form_post flow: started in ``starts``, the provider's form posted from ``posts``;
    Apple adds the person's name (on the first sign-in only)."""
    url = await _start(starts, "apple", verifier)
    assert "response_mode=form_post" in url
    action, fields = await idp.authorize_form(url, login)
    assert action == f"{SECURE_BASE}/auth/openid/apple/callback"
    assert {"code", "state"} <= set(fields)
    user = {"name": {"firstName": "Robert", "lastName": "Tables"}, "email": "x@evil.test"}
    fields["user"] = json.dumps(user)
    return await posts.post(action.removeprefix(SECURE_BASE), data=fields)


async def test_form_post_callback_signs_in_and_maps_apples_user(
    site: Auth, idp: Idp, browser: httpx.AsyncClient
) -> None:
    verifier = secrets.token_urlsafe(48)
    done = await _form_post(idp, "bob", verifier, browser, browser)
    assert done.status_code == 303, done.text
    cookie = done.headers["set-cookie"]  # the flow's cookie goes, as it came: SameSite=None
    assert "Max-Age=0" in cookie and "SameSite=none" in cookie and "Secure" in cookie
    code = _code_of(done.headers["location"])
    body = await site.gql(CODE_LOGIN, {"code": code, "verifier": verifier})
    assert "errors" not in body, body
    me = await _me(site, body["data"]["loginOpenIdCode"]["accessToken"])
    # The name from Apple's `user`; the address from the ID token, never from `user`.
    assert me["user"]["firstName"] == "Robert" and me["user"]["lastName"] == "Tables"
    assert me["user"]["email"] == "bob@example.com"


async def test_form_post_start_sets_a_cookie_that_crosses_sites(
    site: Auth, browser: httpx.AsyncClient
) -> None:
    start = await browser.get(
        "/auth/openid/apple/start",
        params={"redirect_url": APP_URL, "code_challenge": s256("v" * 43)},
    )
    cookie = start.headers["set-cookie"]
    assert "SameSite=none" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "Path=/auth/openid/apple/" in cookie
    lax = await site.client.http.get(
        "/auth/openid/plain/start",
        params={"redirect_url": APP_URL, "code_challenge": s256("v" * 43)},
    )
    assert "SameSite=lax" in lax.headers["set-cookie"]


async def test_a_form_post_without_the_flows_cookie_is_refused(
    site: Auth, idp: Idp, browser: httpx.AsyncClient
) -> None:
    transport = site.client.http._transport
    async with httpx.AsyncClient(transport=transport, base_url=SECURE_BASE) as other:
        verifier = secrets.token_urlsafe(48)
        refused = await _form_post(idp, "bob", verifier, browser, other)
    assert refused.status_code == 400 and "start again" in refused.text


async def test_the_callback_takes_a_form_only_where_configured(
    site: Auth, browser: httpx.AsyncClient
) -> None:
    posted = await site.client.http.post(
        "/auth/openid/plain/callback", data={"code": "c", "state": "s"}
    )
    assert posted.status_code == 405
    not_a_form = await browser.post("/auth/openid/apple/callback", json={"code": "c"})
    assert not_a_form.status_code == 415
    huge = await browser.post(
        "/auth/openid/apple/callback", data={"code": "c" * 70_000, "state": "s"}
    )
    assert huge.status_code == 413
