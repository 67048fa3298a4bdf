"""The explorer and the console in a real browser: Debian's Chromium driven by Playwright,
against ``bastion serve --example movies``.

Screenshots of every page go to ``test-artifacts/console/`` (gitignored; CI keeps them); the
docs' copies in ``docs/images/`` are refreshed from them by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from bastion.cli.main import main
from bastion.project import examples
from tests.e2e.conftest import Serve, Server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PASSWORD = "correct horse battery"
ACCESS_LIFETIME = 30  # seconds: short, and the browser's clock is moved past it

playwright_api = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.is_file():
    pytest.fail("Debian's chromium is needed: apt-get install chromium", pytrace=False)


def bastion(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def movies(serve: Serve, tmp_path: Path) -> tuple[Server, str]:
    """The movies example, with a short access-token lifetime, a user and the root token."""
    folder = tmp_path / "movies"
    examples.materialize("movies", folder)
    config_file = folder / "bastion.yml"
    config = yaml.safe_load(config_file.read_text())
    config["auth"]["access_token_lifetime"] = ACCESS_LIFETIME
    config_file.write_text(yaml.safe_dump(config))
    project = str(folder)
    bastion("deploy", project)
    bastion("users", "create", "--project", project, "--email", "ada@example.com",
            "--first-name", "Ada", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    root = bastion("root-token", "get", "admin", "--project", project).strip()
    server = serve("--example", "movies", cwd=tmp_path)
    return server, root


@pytest.fixture
def page() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1360, "height": 820})
        # Every Content-Security-Policy violation becomes a console error, which fails the test.
        context.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        opened = context.new_page()
        problems: list[str] = []
        # A CSP refusal or a script error would show here.
        opened.on("pageerror", lambda error: problems.append(str(error)))
        opened.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        yield opened
        storage = opened.evaluate(
            "() => JSON.stringify([localStorage, sessionStorage, document.cookie, location.href])"
        )
        context.close()
        browser.close()
        assert problems == []
        # No token was stored or put in the URL: no access token (a JWT, eyJ...), no root
        # token (GraphiQL keeps only the query and its tabs).
        assert "eyJ" not in storage and "bastion_root_" not in storage


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def gql(server: Server, query: str, token: str = "", **variables: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        f"{server.url}/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.json()


def login(server: Server) -> str:
    body = gql(
        server,
        "mutation($p: String!) { loginEmailPassword(input: "
        '{email: "ada@example.com", password: $p}) { accessToken } }',
        p=PASSWORD,
    )
    token: str = body["data"]["loginEmailPassword"]["accessToken"]
    return token


def run_query(page: Any) -> str:
    page.locator(".graphiql-execute-button").click()
    response = page.locator(".graphiql-response")
    expect = playwright_api.expect
    expect(response).to_contain_text('"data"', timeout=15_000)
    text: str = response.inner_text()
    return text


def test_explorer_login_query_refresh_logout(movies: tuple[Server, str], page: Any) -> None:
    server, root = movies
    expect = playwright_api.expect
    page.clock.install()
    page.goto(f"{server.url}/graphql")
    expect(page.locator("#viewer")).to_have_text("Anonymous")
    shot(page, "explorer")

    # Any provider the project has on: anonymous first, then email and password.
    page.select_option("#method", "anon-user")
    page.click("#submit")
    expect(page.locator("#viewer")).to_have_text(re.compile(r"^User \w+"))
    page.click("#logout")
    expect(page.locator("#viewer")).to_have_text("Anonymous")
    page.select_option("#method", "local-userpass")
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#viewer")).to_have_text("ada@example.com")
    result = run_query(page)
    assert "ada@example.com" in result and "Alien" in result
    shot(page, "explorer-query")
    # GraphiQL's documentation explorer reads the schema the page fetched.
    page.get_by_role("button", name="Show Documentation Explorer").click()
    expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Query")
    page.get_by_role("button", name="Hide Documentation Explorer").click()

    # Past the access token's lifetime the page has refreshed it: the viewer is still Ada.
    page.clock.fast_forward(ACCESS_LIFETIME * 1000)
    expect(page.locator("#refreshed")).to_contain_text("Token refreshed", timeout=15_000)
    assert "ada@example.com" in run_query(page)
    refreshes = gql(server, '{ auditEvents(type: ["refresh"]) { id } }', root)
    assert len(refreshes["data"]["auditEvents"]) == 1

    page.click("#logout")
    expect(page.locator("#viewer")).to_have_text("Anonymous")
    assert "ada@example.com" not in run_query(page)
    logouts = gql(server, '{ auditEvents(type: ["logout"]) { id } }', root)
    assert len(logouts["data"]["auditEvents"]) == 2  # the anonymous user's and Ada's


def test_console(movies: tuple[Server, str], page: Any) -> None:
    server, root = movies
    expect = playwright_api.expect
    page.goto(f"{server.url}/console")
    shot(page, "console-login")
    page.fill("#root-token", "not a token")
    page.click("#login button")
    expect(page.locator("#login-error")).not_to_be_empty()
    page.fill("#root-token", root)
    page.click("#login button")

    # Users: find Ada, see her session, deactivate her: her token is refused at once.
    ada_token = login(server)
    expect(page.locator("#page")).to_contain_text("ada@example.com")
    shot(page, "console-users")
    page.get_by_role("button", name="ada@example.com").click()
    expect(page.locator("#user-detail")).to_contain_text("local-userpass")
    expect(page.locator("#user-detail")).to_contain_text("python-httpx")
    shot(page, "console-user")
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#user-detail")).to_contain_text("deactivated")
    refused = gql(server, "{ viewer { user { id } } }", ada_token)
    assert refused["errors"][0]["extensions"]["reason"] == "SESSION_REVOKED"

    # Integrations: a server credential, shown once, that logs in over the API.
    page.click("button[data-page=integrations]")
    page.get_by_label("Credential name").fill("billing")
    page.get_by_role("button", name="Create").click()
    secret = page.locator("#new-secret").inner_text().strip()
    shot(page, "console-integrations")
    body = gql(
        server, "mutation($k: String!) { loginApiKey(input: {key: $k}) { accessToken } }", k=secret
    )
    access = body["data"]["loginApiKey"]["accessToken"]
    assert gql(server, "{ viewer { user { id } } }", access)["data"]["viewer"]["user"]["id"]

    # Root tokens: rotate the console's own; the old one is refused, the console carries on.
    page.click("button[data-page=root-tokens]")
    expect(page.locator("tr[data-name=admin]")).to_be_visible()
    page.locator("tr[data-name=admin] button").click()
    new_root = page.locator("#new-token").inner_text().strip()
    assert new_root and new_root != root
    shot(page, "console-root-tokens")
    old = gql(server, "{ viewer { isRoot } }", root)
    assert old["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert gql(server, "{ viewer { isRoot } }", new_root)["data"]["viewer"]["isRoot"] is True

    page.click("button[data-page=keys]")
    expect(page.locator("#page")).to_contain_text("signing")
    shot(page, "console-keys")

    # The audit log, filtered to the console's own actions, each with its actor.
    page.click("button[data-page=audit]")
    page.get_by_label("Event type").select_option("admin_action")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(3)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.type)")) == {"admin_action"}
    texts = rows.all_inner_texts()
    for action in ("deactivateUser", "createServerApiKey", "rotateRootToken"):
        assert any(action in t and '"actor":"admin"' in t for t in texts), action
    # The live tail shows what happens next, here an action taken over the API.
    page.get_by_label("Live tail").check()
    gql(server, "mutation { rotateSigningKey { kid } }", new_root)
    expect(rows).to_have_count(4, timeout=15_000)
    expect(rows.first).to_contain_text("rotateSigningKey")
    page.get_by_label("Live tail").uncheck()
    shot(page, "console-audit")

    # Data: browse movies, follow a director.
    page.click("button[data-page=data]")
    expect(page.locator("#page h2")).to_have_text("Data")
    page.get_by_label("Type", exact=True).select_option("Movie")
    page.get_by_label("Filter").fill('{"title": "Alien"}')
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#page table")).to_contain_text("1979")
    shot(page, "console-data")
    page.locator("#page table tbody button").first.click()
    expect(page.locator("#page table")).to_contain_text("Ridley Scott")

    page.click("button[data-page=project]")
    expect(page.locator("#settings")).to_contain_text('"root_tokens"')
    assert new_root not in page.locator("#page").inner_text()
    shot(page, "console-project")
    assert re.search(r"type Movie", page.locator("#page pre").first.inner_text())
