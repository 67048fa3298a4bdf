"""Issue 22 done, in a real browser: a user signs in with the local OpenID provider, enrols
TOTP and a passkey, logs out, and logs in again with the passkey alone; a passkey assertion
made for another origin is refused; a provider answering with a cross-site form POST
(``response_mode=form_post``, as Apple does) signs in too.

Debian's Chromium (``/usr/bin/chromium``) through Playwright, never a downloaded browser; its
virtual authenticator (the CDP WebAuthn domain: ctap2, internal, resident keys, user
verification) stands for the device. ``bastion serve`` runs as a real process, the provider
is panva's oidc-provider, TOTP codes come from oathtool.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.factors.oath import oathtool_code
from tests.conftest import write_project
from tests.e2e.conftest import Server, free_port, serving_on
from tests.e2e.openid_idp import Idp, start_idp

CHROMIUM = Path("/usr/bin/chromium")
PAGE = Path(__file__).parent / "passkeys" / "app.html"
PORT = free_port()
ORIGIN = f"http://localhost:{PORT}"  # a secure context, and a valid relying party id
APP = f"{ORIGIN}/app"
OTHER_ORIGIN = f"http://localhost:{free_port()}"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    folder = tmp_path_factory.mktemp("oidc")
    callbacks = [f"{ORIGIN}/auth/openid/{name}/callback" for name in ("local", "post")]
    yield from start_idp(folder, folder / "idp.log", redirect_uris=[*callbacks, APP])


@pytest.fixture
def server(idp: Idp, tmp_path: Path) -> Iterator[Server]:
    auth = {
        "providers": {
            "local-userpass": {"signup": True},
            "openid": {
                "local": idp.settings(redirect_urls=[APP]),
                "post": idp.settings(redirect_urls=[APP], response_mode="form_post"),
            },
        },
        "passkeys": {"enabled": True, "rp_id": "localhost", "origins": [ORIGIN]},
    }
    project = write_project(tmp_path / "site", auth=auth)
    with serving_on(project, PORT, ORIGIN, tmp_path / "serve.log") as running:
        yield running


@pytest.fixture
def html() -> str:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium; .ci/run does)")
    return PAGE.read_text()


@pytest.fixture
async def page(server: Server, html: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        context = await browser.new_context()
        # The app's page, at Bastion's origin and at another one; every other request is real.
        for origin in (ORIGIN, OTHER_ORIGIN):
            await context.route(
                f"{origin}/app*",
                lambda route: route.fulfill(status=200, content_type="text/html", body=html),
            )
        tab = await context.new_page()
        cdp = await context.new_cdp_session(tab)
        await cdp.send("WebAuthn.enable")
        await cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )
        try:
            yield tab
        finally:
            await browser.close()


async def _call(page: Any, script: str, *args: Any) -> Any:
    return await page.evaluate(script, list(args))


async def _sign_in_with_provider(page: Any, login: str, provider: str = "local") -> dict[str, Any]:
    """The browser flow, through the provider's own login and consent pages."""
    await page.goto(APP)
    await _call(page, "([p, url]) => beginSignIn(p, url)", provider, APP)
    # The provider's pages: login and consent, or neither when it remembers the person.
    for _ in range(4):
        await page.wait_for_url(lambda url: "/interaction/" in url or "bastion_code=" in url)
        if "bastion_code=" in page.url:
            break
        if await page.locator("input[name=login]").count():
            await page.fill("input[name=login]", login)
            await page.fill("input[name=password]", "any password")
        async with page.expect_navigation():
            await page.click("button[type=submit]")
    back = page.url
    await page.goto("about:blank")
    await page.goto(back)
    body: dict[str, Any] = await _call(page, "() => finishSignIn()")
    return body


async def test_provider_then_totp_then_passkey_alone(page: Any, server: Server) -> None:
    # 1. Sign in with the OpenID provider: a new user.
    signed_in = await _sign_in_with_provider(page, "alice")
    assert "errors" not in signed_in, (signed_in, server.log())
    token = signed_in["data"]["loginOpenIdCode"]["accessToken"]
    me = server.data("{ viewer { user { id email } } }", token=token)["viewer"]["user"]
    assert me["email"] == "alice@example.com"
    assert "bastion_code" not in page.url  # the app took the code out of the address bar

    # 2. Enrol TOTP (no password: the user has none), confirmed by oathtool's code.
    secret = server.data("mutation { enrolTotp(input: {}) { secret } }", token=token)["enrolTotp"][
        "secret"
    ]
    code = oathtool_code(secret, datetime.now(UTC))
    codes = server.data(
        "mutation ($c: String!) { confirmTotp(input: {code: $c}) }", {"c": code}, token
    )
    assert len(codes["confirmTotp"]) == 10

    # 3. Register a passkey in the browser's authenticator.
    registered = await _call(page, "([t]) => registerPasskey(t, 'laptop')", token)
    assert "errors" not in registered, (registered, server.log())
    listed = server.data("{ passkeys { name } }", token=token)
    assert listed == {"passkeys": [{"name": "laptop"}]}

    # 4. Log out.
    refresh = signed_in["data"]["loginOpenIdCode"]["refreshToken"]
    logout = "mutation ($r: String!) { logout(input: {refreshToken: $r}) }"
    assert server.data(logout, {"r": refresh}) == {"logout": True}

    # 5. Log in again with the passkey alone: no email typed, two factors in one.
    again = await _call(page, "() => loginPasskey()")
    assert "errors" not in again, (again, server.log())
    token = again["data"]["loginPasskey"]["accessToken"]
    viewer = server.data("{ viewer { user { id } } mfaStatus { sessionMfa } }", token=token)
    assert viewer == {"viewer": {"user": {"id": me["id"]}}, "mfaStatus": {"sessionMfa": True}}

    # 6. Signing in with the provider now asks for a second factor; the passkey answers it.
    await page.goto(APP)
    challenged = await _sign_in_with_provider(page, "alice")
    error = challenged["errors"][0]
    assert error["extensions"]["code"] == "MFA_REQUIRED"
    assert error["extensions"]["factors"] == ["totp", "webauthn"]
    answered = await _call(page, "([c]) => loginPasskey(c)", error["extensions"]["challenge"])
    assert "errors" not in answered, answered


async def test_an_assertion_for_another_origin_is_refused(page: Any, server: Server) -> None:
    signed_in = await _sign_in_with_provider(page, "bob")
    token = signed_in["data"]["loginOpenIdCode"]["accessToken"]
    registered = await _call(page, "([t]) => registerPasskey(t, 'phone')", token)
    assert "errors" not in registered, registered
    options = server.data("mutation { passkeyLoginOptions }")["passkeyLoginOptions"]
    # A page of another origin (same relying party id) gets the authenticator to sign.
    await page.goto(f"{OTHER_ORIGIN}/app")
    credential = await _call(page, "([o]) => assertion(o)", options)
    assert json.loads(credential)["type"] == "public-key"
    refused = server.post(
        "mutation ($c: String!) { loginPasskey(input: {credential: $c}) { accessToken } }",
        {"c": credential},
    )
    assert refused["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert "origin" in refused["errors"][0]["extensions"]["reason"].lower()
    # The same authenticator on the right origin still logs in.
    await page.goto(APP)
    fine = await _call(page, "() => loginPasskey()")
    assert "errors" not in fine, fine
    assert httpx.URL(server.url).port == PORT


async def test_a_form_post_provider_comes_back_across_sites(page: Any, server: Server) -> None:
    """The provider (at 127.0.0.1) posts its answer to Bastion (at localhost): another site.
    The flow's cookie is SameSite=None and Secure (kept on localhost), so it comes with the
    POST and the sign-in completes."""
    posted: list[str] = []
    page.on(
        "request",
        lambda r: posted.append(r.url) if r.method == "POST" and "/callback" in r.url else None,
    )
    signed_in = await _sign_in_with_provider(page, "bob", provider="post")
    assert "errors" not in signed_in, (signed_in, server.log())
    assert posted == [f"{ORIGIN}/auth/openid/post/callback"]  # a form POST, not a redirect
    token = signed_in["data"]["loginOpenIdCode"]["accessToken"]
    viewer = server.data("{ viewer { user { email } identities { provider } } }", token=token)
    assert viewer["viewer"]["user"]["email"] == "bob@example.com"
    assert viewer["viewer"]["identities"] == [{"provider": "openid:post"}]
