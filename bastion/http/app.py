"""The ASGI app: routes, start-up and shutdown of one project."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, Router
from starlette.types import Lifespan, Receive, Scope, Send

from bastion.auth.events import ProjectDeployed
from bastion.http.browser import BrowserPages, ExplorerOr
from bastion.http.client_ip import parse_networks
from bastion.http.edge import Edge
from bastion.http.graphql_http import GraphQLEndpoint
from bastion.http.health import healthz, readyz_endpoint
from bastion.http.jwks import jwks_endpoint
from bastion.http.metrics import (
    PASSWORD_HASHING,
    TALLY,
    count_event,
    metrics_endpoint,
    pool_observer,
)
from bastion.http.openid import openid_routes
from bastion.http.stitch.routes import StitchApi
from bastion.project import Project
from bastion.project.deployed import source_of
from bastion.project.live import Generation, LiveProject, follows
from bastion.project.redeploy import POLL_SECONDS, DeployFollower
from bastion.project.running import ServingLock
from bastion.project.service import Service
from bastion.tools.clock import Clock, system_clock
from bastion.tools.heap import settle


def _cors(project: Project) -> list[Middleware]:
    """CORS for the origins ``http.cors.origins`` lists; none at all when it lists none."""
    origins = project.config.http.cors.origins
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "X-Requested-With"],
            # loginUser answers its token in these headers; a page must be able to read them.
            expose_headers=[
                "Authorization",
                "X-Authorization",
                "WWW-Authenticate",
                "Retry-After",
                "X-Request-Id",
            ],
            allow_credentials=False,  # bearer tokens only: no cookies cross origins
            max_age=600,
        )
    ]


def _generation(project: Project, clock: Clock, secret: bytes | None) -> Generation[Edge]:
    """The service of ``project`` and the app answering over it (started by the caller)."""
    service = Service(project, clock, secret)
    endpoint = GraphQLEndpoint(
        service.executor,
        service.auth.authenticator.authenticate,
        max_body_bytes=project.config.http.max_body_bytes,
        refuse_invalid_tokens=project.config.auth.invalid_token == "refuse",  # noqa: S105
    )

    pages = BrowserPages(project)
    graphql_route = ExplorerOr(endpoint, pages)
    cors = _cors(project)
    service.auth.audit.observers.append(count_event)
    service.auth.accounts.passwords.observers.append(PASSWORD_HASHING.observe)
    update_pool = pool_observer(service)

    tally = TALLY.observe  # observe_request's work, one call nearer

    def observe(scope: Scope, status: int, seconds: float) -> None:
        tally(scope, status, seconds)
        update_pool()

    app = Starlette(
        routes=[
            # An ASGI app, not a function: the route passes it every method (see __call__).
            # A browser asking for a page gets the explorer there instead (when it is on).
            Route("/graphql", graphql_route),
            *pages.routes(),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz_endpoint(service.readiness), methods=["GET"]),
            Route("/metrics", metrics_endpoint(service), methods=["GET"]),
            Route("/.well-known/jwks.json", jwks_endpoint(service.auth.keys), methods=["GET"]),
            # The MongoDB Stitch / Realm client API, for apps written against those SDKs.
            *StitchApi(service).routes(),
            # Sign-in with OpenID providers, when the project has any.
            *(
                openid_routes(service.auth.openid, explorer=pages.explorer)
                if service.auth.openid
                else []
            ),
        ],
        middleware=cors,
    )
    app.state.service = service
    # The head cap, the client's address, the request id, the access log and the metrics, in
    # one layer around the whole app: Starlette's error layer answers a route's crash inside
    # it (with the request's id, logged as the 500 it is). The GraphQL route skips Starlette
    # altogether (see bastion.http.edge), unless CORS must see its requests first.
    edge = Edge(
        app,
        limit=project.config.http.max_header_bytes,
        trusted=parse_networks(project.config.http.trusted_proxies),
        observe=observe,
        direct=None if cors else {"/graphql": graphql_route},
    )
    return Generation(service, edge)


class LiveApp:
    """The app ``bastion serve`` runs: each request goes to the generation current when it
    starts, for its whole length; the lifespan starts and stops the generations.

    A plain ASGI class rather than a Starlette app with a middleware: every request would go
    through Starlette's error layer twice (the generation's app has its own).
    """

    def __init__(self, live: LiveProject[Edge], lifespan: Lifespan[Any]) -> None:
        self.state = State()
        self.live = live
        """The generations it serves."""
        self._lifespan = Router(lifespan=lifespan)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan.lifespan(scope, receive, send)
            return
        generation = self.live.enter()
        try:
            await generation.app(scope, receive, send)
        finally:
            generation.leave()


def create_app(
    project: Project,
    *,
    clock: Clock = system_clock,
    secret: bytes | None = None,
    settle_heap: bool = False,
) -> LiveApp:
    """The ASGI app serving ``project``; the database is opened and synced at start-up.

    Each ``bastion deploy`` made meanwhile is served from then on, without a restart
    (:mod:`bastion.project.redeploy`): requests under way end on the project they began with.
    ``clock`` and ``secret`` are injected by tests; by default the real time and the
    project's secret (``BASTION_SECRET`` or ``.bastion/secret``). ``settle_heap`` (``bastion
    serve``) freezes what the start built out of the garbage collector's full passes, and
    again after each deploy taken up (:mod:`bastion.tools.heap`).
    """
    live = LiveProject(lambda p: _generation(p, clock, secret), project)
    deploys = DeployFollower(
        project.root,
        read=lambda: live.current.service.deployed_source(),
        take=live.replace,
        # On PostgreSQL a deploy's event wakes the node (its follower polls the events too).
        poll_seconds=POLL_SECONDS if live.current.service.store.db.is_sqlite else 10.0,
    )

    def taken(generation: Generation[Edge]) -> None:
        app.state.service = generation.service
        generation.service.events.subscribe(ProjectDeployed, deploys.heard)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        # Held while serving: `bastion restore` refuses to run under a live server.
        serving = ServingLock(project.data_dir)
        serving.hold()
        try:
            await live.start()
            try:
                await deploys.start(source_of(project))
                if settle_heap:
                    settle()
                yield
            finally:
                await deploys.close()
                await live.stop()
        finally:
            TALLY.flush()  # the last requests' figures, for the scrape files
            serving.release()

    app = LiveApp(live, lifespan)
    app.state.deploys = deploys  # tests read the record at once, without waiting for a poll
    follows(live, taken)
    if settle_heap:
        live.on_retired.append(settle)
    return app
