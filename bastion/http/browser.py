"""Bastion's pages for a browser: the API explorer at ``/graphql`` and the console at ``/console``.

Both are files shipped inside the package (``pages/`` and ``static/``): nothing is fetched
from elsewhere at run time, so they work offline. They speak only ``/graphql``, with tokens
held in the page's memory. Each is on in ``mode: development`` and off in production unless
``http.explorer`` / ``http.console`` say otherwise; a page that is off answers 404, as a path
that was never there.

Every page and file is served under a strict Content-Security-Policy: scripts and styles from
this origin only (no inline script or style, no ``eval``), no framing (``frame-ancestors
'none'``), requests to this origin only, and no referrer.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.http.answer import Answer
from bastion.http.graphql_http import GraphQLEndpoint
from bastion.model.names import names_for
from bastion.model.types import Model, ScalarField
from bastion.project import Project

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Styles from files too: the pages set styles only through the DOM (which the policy
        # allows), never as inline attributes or <style> elements.
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_PREFIX = "/_bastion"

_PACKAGE = files("bastion.http")


def explorer_enabled(project: Project) -> bool:
    """``http.explorer``, or on in development mode when it is not set."""
    setting = project.config.http.explorer
    return project.config.mode == "development" if setting is None else setting


def console_enabled(project: Project) -> bool:
    """``http.console``, or on in development mode when it is not set."""
    setting = project.config.http.console
    return project.config.mode == "development" if setting is None else setting


def wants_page(scope: Scope) -> bool:
    """Whether a request to ``/graphql`` is a browser asking for a page: a GET without a
    ``query`` parameter whose ``Accept`` names ``text/html`` (GraphQL clients never do)."""
    if scope.get("method") != "GET":
        return False
    query_string: bytes = scope.get("query_string", b"")
    if any(p.split(b"=", 1)[0] == b"query" for p in query_string.split(b"&")):
        return False
    for name, value in scope.get("headers", []):
        if name == b"accept":
            return b"text/html" in value.lower()
    return False


class _Secured:
    """An ASGI app whose responses carry :data:`SECURITY_HEADERS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in {h.lower() for h in SECURITY_HEADERS}
                ]
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured)


def example_query(model: Model) -> str:
    """The explorer's first query: the viewer, and a few rows of the project's first type."""
    lines = ["{", "  viewer { user { email } }"]
    own = [t for t in model.types.values() if not t.builtin]
    if own:
        kind = own[0]
        scalars = [
            f.name for f in kind.fields.values() if isinstance(f, ScalarField) and f.name != "id"
        ]
        lines.append(
            f"  {names_for(kind.name).many}(first: 10) {{ {' '.join(scalars[:3]) or 'id'} }}"
        )
    return "\n".join([*lines, "}", ""])


def _page(name: str, **values: str) -> str:
    text = (_PACKAGE / "pages" / name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


class BrowserPages:
    """The explorer and console pages of one project, and the routes that serve them."""

    def __init__(self, project: Project) -> None:
        self.explorer = explorer_enabled(project)
        self.console = console_enabled(project)
        config = project.config
        names = ("local-userpass", "anon-user", "api-key", "custom-token")
        providers = " ".join(n for n in names if config.auth.providers.enabled(n))
        # The explorer offers a button per OpenID/OAuth provider (names are [a-z0-9_-]) and
        # one for passkeys; the browser flow ends back at /graphql (bastion.http.openid).
        openid = " ".join(n for n, c in config.auth.providers.openid.items() if c.enabled)
        name = html.escape(config.name)
        link = '<a href="/console">Console</a>' if self.console else ""
        self._explorer_html = _page(
            "explorer.html",
            project=name,
            providers=providers,
            openid=openid,
            passkeys="on" if config.auth.passkeys.enabled else "",
            console_link=link,
            example=html.escape(example_query(project.model)),
        )
        self._console_html = _page("console.html", project=name)

    def explorer_page(self) -> Response:
        """The explorer's page (GraphiQL under its login bar)."""
        return HTMLResponse(self._explorer_html, headers=SECURITY_HEADERS)

    async def _console(self, _request: Request) -> Response:
        return HTMLResponse(self._console_html, headers=SECURITY_HEADERS)

    def routes(self) -> list[BaseRoute]:
        """``/console`` and the static files of the pages that are on; the others are not
        routed at all, so they answer 404 like any unknown path."""
        found: list[BaseRoute] = []
        for name, on in (("explorer", self.explorer), ("console", self.console)):
            if on:
                directory = str(_PACKAGE / "static" / name)
                app: Any = _Secured(StaticFiles(directory=directory))
                found.append(Mount(f"{STATIC_PREFIX}/{name}", app=app))
        if self.console:
            found.append(Route("/console", self._console, methods=["GET"]))
            found.append(Route("/console/", self._console, methods=["GET"]))
        return found


class ExplorerOr:
    """The ``/graphql`` route: the explorer's page for a browser (when it is on), else the
    GraphQL endpoint."""

    def __init__(self, endpoint: GraphQLEndpoint, pages: BrowserPages) -> None:
        self.endpoint = endpoint
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.pages.explorer and wants_page(scope):
            await self.pages.explorer_page()(scope, receive, send)
            return
        await self.endpoint(scope, receive, send)

    def answer(self, scope: Scope, receive: Receive) -> Awaitable[Answer | ASGIApp]:
        """The page (as an ASGI app) or the endpoint's answer, for the edge to send (see
        :class:`bastion.http.answer.DirectRoute`): the endpoint's own coroutine, not one more
        around it."""
        if self.pages.explorer and wants_page(scope):
            return _ready(self.pages.explorer_page())
        return self.endpoint.answer(scope, receive)


async def _ready(app: ASGIApp) -> Answer | ASGIApp:
    return app
