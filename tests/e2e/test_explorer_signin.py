"""The explorer's sign-in buttons in a real browser: a person opens ``/graphql``, signs in
with the local OpenID provider (panva's oidc-provider) through its button, runs
``{ viewer { user { id } } }``, logs out, and signs in again with a passkey through its
button; a person with a second factor answers the bar's challenge with a code from their
authenticator app (oathtool's), then with a passkey. The strict Content-Security-Policy holds
throughout (a violation fails the test), and no token is left in storage or in the address.

Debian's Chromium through Playwright, its virtual authenticator standing for the device;
``bastion serve`` runs as a real process.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.auth.factors.oath import oathtool_code
from tests.conftest import write_project
from tests.e2e.conftest import Server, free_port, serving_on
from tests.e2e.openid_idp import APP_URL, Idp, start_idp

CHROMIUM = Path("/usr/bin/chromium")
PORT = free_port()
ORIGIN = f"http://localhost:{PORT}"  # a secure context, and a valid relying party id
EXPLORER = f"{ORIGIN}/graphql"
LOGIN_OPENID = """
mutation ($t: String!, $n: String!) {
  loginOpenId(input: {provider: "local", idToken: $t, nonce: $n}) { accessToken }
}
"""


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    folder = tmp_path_factory.mktemp("oidc")
    callback = f"{ORIGIN}/auth/openid/local/callback"
    yield from start_idp(folder, folder / "idp.log", redirect_uris=[callback, APP_URL])


@pytest.fixture
def server(idp: Idp, tmp_path: Path) -> Iterator[Server]:
    auth = {
        "providers": {"openid": {"local": idp.settings(redirect_urls=[])}},
        "passkeys": {"enabled": True, "rp_id": "localhost", "origins": [ORIGIN]},
    }
    project = write_project(tmp_path / "site", auth=auth)
    with serving_on(project, PORT, ORIGIN, tmp_path / "serve.log") as running:
        yield running


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed (apt-get install chromium; .ci/run does)")
    return CHROMIUM


@pytest.fixture
async def page(server: Server, chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium))
        context = await browser.new_context()
        await context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        tab = await context.new_page()
        # Errors of Bastion's pages (a CSP refusal, a script error); the provider's own pages
        # are not under test (their font import fails offline).
        problems: list[str] = []
        tab.on(
            "pageerror",
            lambda error: problems.append(str(error)) if tab.url.startswith(ORIGIN) else None,
        )
        tab.on(
            "console",
            lambda message: (
                problems.append(f"{tab.url}: {message.text}")
                if message.type == "error" and tab.url.startswith(ORIGIN)
                else None
            ),
        )
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
            stored = await tab.evaluate(
                "() => JSON.stringify([localStorage, sessionStorage, document.cookie])"
            )
        finally:
            await browser.close()
        assert problems == [], (problems, server.log())
        assert "eyJ" not in stored and "bastion_explorer_verifier" not in stored, stored


async def _run(page: Any, query: str) -> Any:
    """Type ``query`` into GraphiQL's editor and run it; the JSON it shows."""
    from playwright.async_api import expect

    await page.locator(".graphiql-query-editor .CodeMirror").click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(query)
    response = page.locator(".graphiql-response")
    await page.locator(".graphiql-execute-button").click()
    await expect(response).to_contain_text('"viewer"', timeout=15_000)
    text: str = await response.inner_text()
    return json.loads(text.replace("\xa0", " "))  # the editor shows indents as no-break spaces


async def _alices_token(server: Server, idp: Idp) -> str:
    """An access token of Alice's, from a login by her own app (not the explorer)."""
    nonce = secrets.token_urlsafe(16)
    token: str = server.data(LOGIN_OPENID, {"t": await idp.id_token("alice", nonce), "n": nonce})[
        "loginOpenId"
    ]["accessToken"]
    return token


async def _sign_in_through_the_button(page: Any) -> None:
    """Alice presses "Sign in with local": the provider's own login and consent pages (or
    neither, when it remembers her), then back to the explorer."""
    await page.click("#openid-local")
    for _ in range(4):
        await page.wait_for_url(lambda url: "/interaction/" in url or url.startswith(EXPLORER))
        if page.url.startswith(EXPLORER):
            break
        if await page.locator("input[name=login]").count():
            await page.fill("input[name=login]", "alice")
            await page.fill("input[name=password]", "any password")
        async with page.expect_navigation():
            await page.click("button[type=submit]")


async def _register_passkey(page: Any, server: Server, token: str) -> None:
    """Alice registers a passkey in this browser's authenticator (``token``: her app's)."""
    options = server.data("mutation { passkeyRegistrationOptions }", token=token)
    credential = await page.evaluate(
        """async (options) => {
          const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(options));
          const credential = await navigator.credentials.create({ publicKey });
          return JSON.stringify(credential.toJSON());
        }""",
        options["passkeyRegistrationOptions"],
    )
    registered = server.data(
        "mutation ($c: String!) { registerPasskey(input: {credential: $c}) { id } }",
        {"c": credential},
        token,
    )
    assert registered["registerPasskey"]["id"]


async def test_provider_and_passkey_buttons_sign_in_from_the_explorer(
    page: Any, server: Server, idp: Idp
) -> None:
    from playwright.async_api import expect

    await page.goto(EXPLORER)
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
    await expect(page.locator("#openid-local")).to_have_text("Sign in with local")
    await _sign_in_through_the_button(page)
    await expect(page.locator("#viewer")).to_have_text("alice@example.com")
    assert page.url == EXPLORER  # the one-time code left the address bar
    first = await _run(page, "{ viewer { user { id } } }")
    user_id = first["data"]["viewer"]["user"]["id"]
    assert re.fullmatch(r"\S+", user_id)

    # Log out; a passkey of Alice's signs her in again through its button.
    await _register_passkey(page, server, await _alices_token(server, idp))
    await page.click("#logout")
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
    await page.click("#passkey")
    await expect(page.locator("#viewer")).to_have_text("alice@example.com")
    again = await _run(page, "{ viewer { user { id } } }")
    assert again["data"]["viewer"]["user"]["id"] == user_id


async def test_a_failed_provider_sign_in_says_so(page: Any, server: Server) -> None:
    from playwright.async_api import expect

    # The provider sent the person back with an error (they cancelled, say).
    await page.goto(f"{EXPLORER}#error=access_denied")
    await expect(page.locator("#error")).to_have_text("Sign-in failed: access_denied")
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
    assert page.url == EXPLORER


async def test_the_bar_asks_for_the_second_factor_of_a_provider_sign_in(
    page: Any, server: Server, idp: Idp
) -> None:
    from playwright.async_api import expect

    # Alice turns an authenticator app on, from her own app.
    token = await _alices_token(server, idp)
    secret = server.data("mutation { enrolTotp(input: {}) { secret } }", token=token)["enrolTotp"][
        "secret"
    ]
    confirm = "mutation ($c: String!) { confirmTotp(input: {code: $c}) }"
    server.data(confirm, {"c": oathtool_code(secret, datetime.now(UTC))}, token)

    # Her provider sign-in in the explorer now asks for a code; she has no passkey to offer.
    await page.goto(EXPLORER)
    await _sign_in_through_the_button(page)
    await expect(page.locator("#mfa-code")).to_be_visible()
    await expect(page.locator("#mfa-passkey")).to_be_hidden()
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
    # The confirmation used this step's code: the app's next one (a step of drift is allowed).
    code = oathtool_code(secret, datetime.now(UTC) + timedelta(seconds=30))
    await page.fill("#mfa-code", f"{(int(code) + 1) % 10**6:06d}")
    await page.click("#mfa-submit")
    await expect(page.locator("#error")).not_to_be_empty()
    await expect(page.locator("#mfa-code")).to_be_visible()  # still asking
    await page.fill("#mfa-code", code)
    await page.click("#mfa-submit")
    await expect(page.locator("#viewer")).to_have_text("alice@example.com")
    await expect(page.locator("#mfa")).to_be_hidden()
    await expect(page.locator("#error")).to_be_empty()
    answer = await _run(page, "{ viewer { user { email } } mfaStatus { sessionMfa } }")
    assert answer["data"]["mfaStatus"] == {"sessionMfa": True}

    # With a passkey too, the bar offers it for the second factor, and it answers alone.
    await _register_passkey(page, server, token)
    await page.click("#logout")
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
    await _sign_in_through_the_button(page)
    await expect(page.locator("#mfa-passkey")).to_be_visible()
    await page.click("#mfa-passkey")
    await expect(page.locator("#viewer")).to_have_text("alice@example.com")
    await expect(page.locator("#mfa")).to_be_hidden()
    again = await _run(page, "{ viewer { user { email } } mfaStatus { sessionMfa } }")
    assert again["data"]["mfaStatus"] == {"sessionMfa": True}

    # Cancelling the second step brings the first back, logged out.
    await page.click("#logout")
    await _sign_in_through_the_button(page)
    await page.click("#mfa-cancel")
    await expect(page.locator("#mfa")).to_be_hidden()
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#viewer")).to_have_text("Anonymous")
