"""``GET /.well-known/jwks.json``: other services verify Bastion's tokens with public keys only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest

from bastion.auth.keys import ACTIVATION_DELAY, RELOAD_INTERVAL
from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import age
from tests.conftest import GraphQLClient

SIGNUP = {"providers": {"local-userpass": {"signup": True}}}
REGISTER = (
    'mutation { registerUserEmailPassword(input: {email: "ann@example.com", '
    'password: "correct horse battery"}) { accessToken } }'
)
PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


async def start(
    make_project: Callable[..., Project], client_for: Callable[..., Any], algorithm: str
) -> tuple[Project, GraphQLClient]:
    project = make_project(auth={**SIGNUP, "signing": {"algorithm": algorithm}})
    return project, await client_for(project)


async def jwks(client: GraphQLClient) -> dict[str, Any]:
    response = await client.http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
async def test_the_jwks_verifies_a_bastion_token(
    make_project: Callable[..., Project], client_for: Callable[..., Any], algorithm: str
) -> None:
    _, client = await start(make_project, client_for, algorithm)
    token = (await client.data(REGISTER))["registerUserEmailPassword"]["accessToken"]
    document = await jwks(client)
    (entry,) = document["keys"]
    assert not PRIVATE & set(entry)
    assert entry["use"] == "sig" and entry["alg"] == algorithm
    assert entry["kid"] == jwt.get_unverified_header(token)["kid"]
    # What another service does: the key set, the token's kid, the key's own algorithm.
    key = jwt.PyJWKSet.from_dict(document)[entry["kid"]]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[entry["alg"]],
        audience="test-app",
        options={"verify_iat": False, "verify_exp": False},  # the app's clock is in 2030
    )
    viewer = await client.gql(
        "{ viewer { user { id } } }", headers={"Authorization": f"Bearer {token}"}
    )
    assert claims["sub"] == viewer["data"]["viewer"]["user"]["id"]


async def test_hmac_keys_are_never_published(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    _, client = await start(make_project, client_for, "HS256")
    assert await jwks(client) == {"keys": []}


async def test_a_new_key_is_published_before_it_signs_and_a_pruned_one_goes(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project, client = await start(make_project, client_for, "EdDSA")
    first = [k["kid"] for k in (await jwks(client))["keys"]]
    other = (await client_for(project)).app.state.service.auth.keys  # another process
    new = await other.rotate("ES256")
    clock.advance(RELOAD_INTERVAL)
    listed = (await jwks(client))["keys"]
    assert [k["kid"] for k in listed] == [new.kid, *first]  # newest first, before it signs
    assert other.signing_key().kid == first[0]
    clock.advance(ACTIVATION_DELAY)
    await other.prune(force=True)
    clock.advance(RELOAD_INTERVAL)
    assert [k["kid"] for k in (await jwks(client))["keys"]] == [new.kid]


async def test_the_legacy_secret_is_not_published(
    make_project: Callable[..., Project], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    project = make_project(auth=SIGNUP)
    await age(project, clock)  # a project from before keys
    client = await client_for(project)
    client_keys = client.app.state.service.auth.keys
    assert [s.kid for s in client_keys.statuses()][-1] is None  # the legacy record
    (entry,) = (await jwks(client))["keys"]
    assert entry["alg"] == "EdDSA" and not PRIVATE & set(entry)


async def test_only_get(
    make_project: Callable[..., Project], client_for: Callable[..., Any]
) -> None:
    _, client = await start(make_project, client_for, "EdDSA")
    assert (await client.http.post("/.well-known/jwks.json")).status_code == 405
