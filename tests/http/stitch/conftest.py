"""A project with every provider on, and a client speaking the Stitch client API to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient

APP = "test-app"
BASE = "/api/client/v2.0"
PASSWORD = "correct horse battery"
JWT_SECRET = "j" * 40  # the custom-token provider's HS256 secret in these tests
PROVIDERS = {
    "local-userpass": {"signup": True},
    "anon-user": {"enabled": True},
    "api-key": {"enabled": True},
}
CUSTOM_TOKEN = {
    "enabled": True,
    "audience": APP,
    "secret": JWT_SECRET,
    "metadata_fields": {"firstName": "first_name", "email": "email"},
}
SCHEMA = "type Note { text: String! owner: User }\nextend type User { notes: [Note!]! }\n"
RULES = {
    "Note": {"read": {"owner": {"id": "$viewer.id"}}, "create": "authenticated"},
    "User": {"read": {"id": "$viewer.id"}},
}


def bearer(token: str) -> dict[str, str]:
    """The header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Stitch:
    """A client of the Stitch routes of one in-process app."""

    client: GraphQLClient
    clock: FrozenClock

    @property
    def http(self) -> httpx.AsyncClient:
        """The raw HTTP client."""
        return self.client.http

    async def login(
        self, provider: str, body: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a provider's login route."""
        return await self.http.post(
            f"{BASE}/app/{APP}/auth/providers/{provider}/login", json=body or {}, **kwargs
        )

    async def logged_in(self, provider: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A successful login's body."""
        response = await self.login(provider, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def user(self, email: str = "ann@example.com") -> dict[str, Any]:
        """Register ``email`` and log in with local-userpass."""
        response = await self.http.post(
            f"{BASE}/app/{APP}/auth/providers/local-userpass/register",
            json={"email": email, "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        return await self.logged_in("local-userpass", {"username": email, "password": PASSWORD})

    async def graphql(self, token: str, query: str, **kwargs: Any) -> httpx.Response:
        """POST a document to the app's GraphQL route with an access token."""
        return await self.http.post(
            f"{BASE}/app/{APP}/graphql", json={"query": query, **kwargs}, headers=bearer(token)
        )


@pytest.fixture
def stitch_for(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> Callable[..., Any]:
    """Start a project with the given providers (all on by default)."""

    async def start(providers: dict[str, Any] | None = None, **auth: Any) -> Stitch:
        project = make_project(
            SCHEMA, permissions=RULES, auth={"providers": providers or PROVIDERS, **auth}
        )
        return Stitch(await client_for(project), clock)

    return start


@pytest.fixture
async def stitch(stitch_for: Callable[..., Any]) -> Stitch:
    """Every provider on."""
    client: Stitch = await stitch_for()
    return client
