"""The ASGI app: routes, start-up and shutdown of one project."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import Scope

from bastion.http.browser import BrowserPages, ExplorerOr
from bastion.http.client_ip import parse_networks
from bastion.http.edge import Edge
from bastion.http.graphql_http import GraphQLEndpoint
from bastion.http.health import healthz, readyz_endpoint
from bastion.http.jwks import jwks_endpoint
from bastion.http.metrics import count_event, metrics_endpoint, observe_request, pool_observer
from bastion.http.openid import openid_routes
from bastion.http.stitch.routes import StitchApi
from bastion.project import Project
from bastion.project.running import ServingLock
from bastion.project.service import Service
from bastion.tools.clock import Clock, system_clock


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


def create_app(
    project: Project, *, clock: Clock = system_clock, secret: bytes | None = None
) -> Starlette:
    """The ASGI app serving ``project``; the database is opened and synced at start-up.

    ``clock`` and ``secret`` are injected by tests; by default the real time and the
    project's secret (``BASTION_SECRET`` or ``.bastion/secret``).
    """
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
    update_pool = pool_observer(service)

    def observe(scope: Scope, status: int, seconds: float) -> None:
        observe_request(scope, status, seconds)
        update_pool()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # Held while serving: `bastion restore` refuses to run under a live server.
        serving = ServingLock(project.data_dir)
        serving.hold()
        try:
            await service.start()
            service.auth.email.outbox.start()  # the mail sender, in the background
            # Bounded tables: what is past its retention is deleted while the server runs.
            every = timedelta(minutes=project.config.retention.every_minutes)
            stop_pruning = asyncio.Event()
            pruning = asyncio.create_task(service.retention.run_every(every, stop_pruning))
            try:
                await service.follow_cluster()
                yield
            finally:
                # Told to stop, not cancelled: a round under way ends cleanly first.
                stop_pruning.set()
                await pruning
                await service.stop()
        finally:
            serving.release()

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
        middleware=[
            # The head cap, the client's address and the access log, in one layer.
            Middleware(
                Edge,
                limit=project.config.http.max_header_bytes,
                trusted=parse_networks(project.config.http.trusted_proxies),
                observe=observe,
                # The GraphQL route skips the router (see bastion.http.edge), unless CORS must
                # see its requests first.
                direct=None if cors else {"/graphql": graphql_route},
            ),
            *cors,
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app
