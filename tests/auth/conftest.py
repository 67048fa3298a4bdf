"""Helpers of the authentication tests: a project with sign-up on, and the auth documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import delete, update

from bastion.auth import SYSTEM
from bastion.auth.derived import RECORD_KEY
from bastion.auth.key_material import SigningKey
from bastion.auth.key_store import LEGACY_KEY, MADE_KEY
from bastion.auth.secret import load_secret
from bastion.auth.sessions import hash_token
from bastion.auth.settings import AuthConfig
from bastion.project import Project
from bastion.store.auth.tables import META_TABLE, ROOT_TOKEN_TABLE, SIGNING_KEY_TABLE
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient, unauthenticated

PASSWORD = "correct horse battery"
SECRET = "s" * 64  # BASTION_SECRET of the tests that sign tokens by hand
SIGNUP = {"providers": {"local-userpass": {"signup": True}}}
REUSE_INTERVAL = AuthConfig().refresh_reuse_interval
"""Seconds a used refresh token answers its successor again by default; reuse after it ends
the session."""

REGISTER = """
mutation ($email: String!, $password: String!, $firstName: String, $username: String) {
  registerUserEmailPassword(input: {email: $email, password: $password,
                                    firstName: $firstName, username: $username}) {
    accessToken accessTokenLifetime refreshToken refreshTokenLifetime
  }
}
"""
LOGIN = """
mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) {
    accessToken accessTokenLifetime refreshToken refreshTokenLifetime
  }
}
"""
REFRESH = """
mutation ($token: String!) {
  refreshToken(input: {refreshToken: $token}) {
    accessToken accessTokenLifetime refreshToken refreshTokenLifetime
  }
}
"""
LOGOUT = "mutation ($token: String!) { logout(input: {refreshToken: $token}) }"
VIEWER = "{ viewer { user { id email } } }"


def bearer(token: str) -> dict[str, str]:
    """The request header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def error_code(body: dict[str, Any]) -> str:
    """The code of the only error of a response."""
    assert len(body.get("errors", [])) == 1, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


@dataclass
class Auth:
    """A client of a project with sign-up on, speaking the auth fields."""

    client: GraphQLClient

    @property
    def service(self) -> Any:
        """The running project (store, auth services)."""
        return self.client.app.state.service

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        """POST a document, with ``token`` as bearer when given."""
        body = {"query": query, "variables": variables}
        return await self.client.http.post(
            "/graphql", json=body, headers=bearer(token) if token else {}
        )

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """POST a document; the JSON body."""
        body: dict[str, Any] = (await self.post(query, variables, token)).json()
        return body

    async def register(self, email: str, password: str = PASSWORD, **extra: str) -> dict[str, Any]:
        """Sign a user up; their first token pair."""
        body = await self.gql(REGISTER, {"email": email, "password": password, **extra})
        assert "errors" not in body, body
        pair: dict[str, Any] = body["data"]["registerUserEmailPassword"]
        return pair

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """The body answering ``loginEmailPassword``."""
        return await self.gql(LOGIN, {"email": email, "password": password})

    async def login_pair(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """A new session's token pair; the login must succeed."""
        body = await self.login(email, password)
        assert "errors" not in body, body
        pair: dict[str, Any] = body["data"]["loginEmailPassword"]
        return pair

    async def refresh(self, token: str) -> dict[str, Any]:
        """The body answering ``refreshToken``."""
        return await self.gql(REFRESH, {"token": token})

    async def viewer(self, token: str | None) -> dict[str, Any] | None:
        """``viewer.user`` of a request carrying ``token`` (None: anonymous, or the token
        was refused)."""
        body = await self.gql(VIEWER, token=token)
        if token is not None and unauthenticated(body) is not None:
            return None
        assert "errors" not in body, body
        user: dict[str, Any] | None = body["data"]["viewer"]["user"]
        return user

    async def refused(self, token: str) -> str | None:
        """Why a request with ``token`` was refused (None: it was not), checking that a refused
        one ran nothing and asked the client to refresh or log in."""
        response = await self.post(VIEWER, token=token)
        body = response.json()
        reason = unauthenticated(body)
        assert (reason is None) == ("www-authenticate" not in response.headers), body
        if reason is None:
            assert body["data"] == {"viewer": {"user": None}}, body
        else:
            assert "data" not in body, body
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        return reason


@pytest.fixture
def auth_for(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> Callable[..., Any]:
    """Start a project with sign-up on and the given ``auth:`` settings."""

    async def start(**settings: Any) -> Auth:
        config: dict[str, Any] = {**settings}
        providers = dict(settings.get("providers", {}))
        providers["local-userpass"] = {
            **SIGNUP["providers"]["local-userpass"],
            **providers.get("local-userpass", {}),
        }
        config["providers"] = providers
        return Auth(await client_for(make_project(auth=config)))

    return start


@pytest.fixture
async def auth(auth_for: Callable[..., Any]) -> Auth:
    """A project with sign-up on and default settings."""
    started: Auth = await auth_for()
    return started


def unbound_root_token(secret: bytes, name: str, counter: int = 0) -> str:
    """A root token as versions before project-bound derivations made it: from the secret,
    the name and the counter alone (the same in every project sharing the secret)."""
    digest = hmac.new(secret, f"root-token\0{name}\0{counter}".encode(), hashlib.sha256).digest()
    return "bastion_root_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def age(project: Project, clock: FrozenClock, root_tokens: Sequence[str] = ()) -> bytes:
    """Leave ``project``'s database and folder as a version before signing keys and
    project-bound derivations did: a user in it, ``root_tokens`` derived the old way, no
    derivation record, no signing keys. Returns the server secret (the project's file)."""
    from bastion.project.service import Service

    service = Service(project, clock)
    await service.start()
    try:
        secret = load_secret(project.data_dir)
        await service.executor.run(
            'mutation { createUser(data: {email: "old@example.com"}) { id } }', viewer=SYSTEM
        )
        await service.auth.root_tokens.deploy(list(root_tokens))
        tables = service.store.tables.metadata.tables
        root, meta = tables[ROOT_TOKEN_TABLE], tables[META_TABLE]
        async with service.store.db.write() as conn:
            for name in root_tokens:
                old = hash_token(unbound_root_token(secret, name))
                await conn.execute(update(root).where(root.c.name == name).values(hash=old))
            made = (RECORD_KEY, MADE_KEY, LEGACY_KEY)
            await conn.execute(delete(meta).where(meta.c.key.in_(made)))
            await conn.execute(delete(tables[SIGNING_KEY_TABLE]))
    finally:
        await service.stop()
    return secret


def private_forms(key: SigningKey) -> list[bytes]:
    """Every form in which a key's private part could lie in clear: PEM (whole and line by
    line), DER, the raw private value (a JWK's ``d``, as bytes and base64url), an HMAC secret."""
    if isinstance(key.material, bytes):
        return [key.material, base64.urlsafe_b64encode(key.material).rstrip(b"=")]
    pem = key.material.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    der = key.material.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forms = [pem, der, *(line for line in pem.splitlines() if b"-----" not in line)]
    algorithm = jwt.get_algorithm_by_name(key.algorithm)
    d = json.loads(algorithm.to_jwk(key.material))["d"]
    forms += [d.encode(), base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))]
    return forms
