"""Shared fixtures: real project folders on disk, real SQLite files, the app in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url

import bastion.graphql.execute as execute_module
from bastion import create_app, load_project
from bastion.errors import ProjectError
from bastion.model import parse_model
from bastion.project import Project
from bastion.project.config import DEFAULT_DATABASE_URL
from bastion.tools.clock import FrozenClock, system_clock
from tests import databases

# Seconds an in-process app may take to start (RSA key generation on a loaded CI machine
# takes seconds; asgi-lifespan's default of 5 fails there).
STARTUP_TIMEOUT = 60

MOVIES_SCHEMA = """
enum Genre { ACTION DRAMA SCIFI }

type Movie {
  title: String! @unique
  year: Int
  rating: Float
  genre: Genre
  tags: [String!]
  extra: JSON
  released: DateTime
  seen: Boolean @default(value: false)
  director: Person
  createdAt: DateTime!
  updatedAt: DateTime!
}

type Person {
  name: String! @unique
  born: Int
  movies: [Movie!]!
}
"""


OPEN = {op: "everyone" for op in ("read", "create", "update", "delete")}


def open_permissions(schema: str) -> dict[str, Any]:
    """Rules letting everyone do everything to every type of ``schema`` (tests of data)."""
    try:
        types = parse_model(schema).types
    except ProjectError:
        return {}  # a test of a bad model: its error is what it checks
    return {name: OPEN for name in types}


def write_project(root: Path, schema: str = MOVIES_SCHEMA, **config: Any) -> Path:
    """Write bastion.yml and schema.graphql into ``root``; extra keys go into bastion.yml.

    Unless the test gives ``permissions``, every type is open to everyone, so tests of the
    data layer need no rules; tests of permissions pass their own.
    """
    root.mkdir(parents=True, exist_ok=True)
    config.setdefault("permissions", open_permissions(schema))
    settings = {"name": "test", "app_id": "test-app", **config}
    (root / "bastion.yml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (root / "schema.graphql").write_text(schema, encoding="utf-8")
    return root


@asynccontextmanager
async def served(project: Path, clock: Any = system_clock) -> AsyncIterator[httpx.AsyncClient]:
    """The project's app in-process, as a running server would answer."""
    app = create_app(load_project(project), clock=clock)
    async with LifespanManager(
        app, startup_timeout=STARTUP_TIMEOUT, shutdown_timeout=STARTUP_TIMEOUT
    ) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield http


def pytest_configure(config: pytest.Config) -> None:
    for marker in (
        "sqlite_only(reason): a test that only means something on SQLite",
        "postgresql_only(reason): a test that only means something on PostgreSQL",
    ):
        config.addinivalue_line("markers", marker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests of the other database, saying why they are for one database only."""
    other = "postgresql_only" if not databases.on_postgresql() else "sqlite_only"
    for item in items:
        marker = item.get_closest_marker(other)
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"{other}: {reason}"))


def pytest_sessionfinish() -> None:
    databases.close_pool()


@pytest.fixture(autouse=True)
def _database_of_the_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """On a PostgreSQL run, a project that keeps the default (SQLite) database gets a
    throwaway PostgreSQL database instead, the same one for its folder for the whole test."""
    if not databases.on_postgresql():
        yield
        return
    chosen = Project.database_url

    def database_url(project: Project) -> Any:
        if project.config.database.url != DEFAULT_DATABASE_URL:
            return chosen.fget(project)  # type: ignore[attr-defined]
        if project.root not in databases.assigned:
            databases.assigned[project.root] = databases.pool().take()
        return make_url(databases.assigned[project.root]).set(drivername="postgresql+asyncpg")

    monkeypatch.setattr(Project, "database_url", property(database_url))
    yield
    databases.forget_projects()
    databases.pool().give_back_all()


@pytest.fixture
def clock() -> FrozenClock:
    """A clock the test moves by hand."""
    return FrozenClock()


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Project]:
    """Make and load a project folder under the test's temporary folder."""
    counter = iter(range(1000))

    def make(schema: str = MOVIES_SCHEMA, **config: Any) -> Project:
        return load_project(write_project(tmp_path / f"p{next(counter)}", schema, **config))

    return make


def unauthenticated(body: dict[str, Any]) -> str | None:
    """The reason of the one UNAUTHENTICATED error of a response, if that is what it is."""
    errors = body.get("errors", [])
    if len(errors) != 1 or errors[0].get("extensions", {}).get("code") != "UNAUTHENTICATED":
        return None
    reason: str = errors[0]["extensions"]["reason"]
    return reason


class GraphQLClient:
    """An httpx client bound to one in-process app, with a GraphQL helper."""

    def __init__(self, http: httpx.AsyncClient, app: Any) -> None:
        self.http = http
        self.app = app

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """POST a document; returns the JSON body."""
        body: dict[str, Any] = {"query": query, "variables": variables, **extra}
        response = await self.http.post("/graphql", json=body, headers=headers)
        result: dict[str, Any] = response.json()
        return result

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """POST a document that must succeed; returns ``data``."""
        body = await self.gql(query, variables, **extra)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
async def client_for(clock: FrozenClock) -> AsyncIterator[Callable[..., Any]]:
    """Start the app of a project in-process (lifespan included) and talk to it."""
    managers: list[LifespanManager] = []
    clients: list[httpx.AsyncClient] = []

    async def start(project: Project) -> GraphQLClient:
        app = create_app(project, clock=clock)
        manager = LifespanManager(
            app, startup_timeout=STARTUP_TIMEOUT, shutdown_timeout=STARTUP_TIMEOUT
        )
        await manager.__aenter__()
        managers.append(manager)
        # The start's background writes (the first pruning round) are over before the test
        # talks to the server: they would otherwise share its group commits.
        await app.state.service.retention.first_round()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        )
        clients.append(http)
        return GraphQLClient(http, app)

    yield start
    for http in clients:
        await http.aclose()
    for manager in reversed(managers):
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def movies(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> GraphQLClient:
    """A client of a fresh project with the movies schema."""
    client: GraphQLClient = await client_for(make_project())
    return client


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query text the executor parses from now on (what its document cache did not
    spare)."""
    calls: list[str] = []
    real_parse = execute_module.parse

    def counting_parse(source: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(source))
        return real_parse(source, *args, **kwargs)

    monkeypatch.setattr(execute_module, "parse", counting_parse)
    return calls
