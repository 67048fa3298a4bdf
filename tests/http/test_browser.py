"""The browser pages as HTTP answers: where they are, when they are off, and their headers.
(What they do in a browser is tested in Chromium: tests/e2e/test_console.py.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.http.browser import CONTENT_SECURITY_POLICY
from bastion.project import Project

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SCHEMA = "type Note { text: String! }"


async def _client(make_project: Callable[..., Project], client_for: Any, **config: Any) -> Any:
    return (await client_for(make_project(SCHEMA, **config))).http


async def test_a_browser_gets_the_explorer_and_clients_get_graphql(
    make_project: Callable[..., Project], client_for: Any
) -> None:
    http = await _client(make_project, client_for)
    page = await http.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/_bastion/explorer/explorer.js"' in page.text
    csp = page.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert (
        "unsafe-eval" not in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script: the policy would refuse it anyway
    # A GraphQL client (or a browser sending a query) still gets GraphQL.
    for headers, url in (
        ({}, "/graphql?query={__typename}"),
        ({"Accept": BROWSER}, "/graphql?query={__typename}"),
    ):
        answer = await http.get(url, headers=headers)
        assert answer.json() == {"data": {"__typename": "Query"}}
    bundle = await http.get("/_bastion/explorer/explorer.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert bundle.headers["x-content-type-options"] == "nosniff"


async def test_the_console_page_is_served_in_development(
    make_project: Callable[..., Project], client_for: Any
) -> None:
    http = await _client(make_project, client_for)
    page = await http.get("/console")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert 'src="/_bastion/console/console.js"' in page.text
    script = await http.get("/_bastion/console/console.js")
    assert script.status_code == 200
    assert "localStorage" not in script.text and "sessionStorage" not in script.text


@pytest.mark.parametrize(
    "config",
    [{"mode": "production"}, {"http": {"console": False, "explorer": False}}],
)
async def test_off_means_not_there(
    make_project: Callable[..., Project], client_for: Any, config: dict[str, Any]
) -> None:
    http = await _client(make_project, client_for, **config)
    unknown = await http.get("/no-such-page")
    for path in (
        "/console",
        "/console/",
        "/_bastion/console/console.js",
        "/_bastion/explorer/explorer.js",
    ):
        answer = await http.get(path)
        assert (answer.status_code, answer.text) == (unknown.status_code, unknown.text), path
    # /graphql answers a browser as it answers any GraphQL client without a query.
    page = await http.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("application/json")


async def test_production_may_turn_the_explorer_on(
    make_project: Callable[..., Project], client_for: Any
) -> None:
    http = await _client(make_project, client_for, mode="production", http={"explorer": True})
    page = await http.get("/graphql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and "Bastion explorer" in page.text
    assert (await http.get("/console")).status_code == 404
