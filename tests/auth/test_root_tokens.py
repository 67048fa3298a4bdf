"""Root tokens are bound to their project: another project sharing the secret derives others.

Old projects (whose tokens were derived from the secret, name and counter alone) keep their
tokens until rotated, and are warned at every start; a new project never accepts one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bastion.auth.secret import SECRET_ENV
from bastion.project import Project
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import SECRET, age, bearer, unauthenticated, unbound_root_token
from tests.conftest import GraphQLClient

IS_ROOT = "{ viewer { isRoot } }"


async def is_root(client: GraphQLClient, token: str) -> bool:
    body = await client.gql(IS_ROOT, headers=bearer(token))
    if unauthenticated(body) == "ACCESS_TOKEN_INVALID":
        return False  # refused: not root, nor anybody
    return bool(body["data"]["viewer"]["isRoot"])


async def deployed(client: GraphQLClient, *names: str) -> Any:
    """The project's root tokens, made as `bastion deploy` makes them."""
    tokens = client.app.state.service.auth.root_tokens
    await tokens.deploy(list(names))
    return tokens


async def test_two_projects_sharing_a_secret_refuse_each_others_root_tokens(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    # Staging and production: one secret, one name, even one app id.
    staging = await client_for(make_project())
    production = await client_for(make_project())
    ci_staging = await (await deployed(staging, "ci")).get("ci")
    ci_production = await (await deployed(production, "ci")).get("ci")
    assert ci_staging != ci_production
    assert await is_root(staging, ci_staging) and await is_root(production, ci_production)
    assert not await is_root(production, ci_staging)
    assert not await is_root(staging, ci_production)
    # Nor does any other project id share them.
    other = await client_for(make_project(app_id="other-app"))
    assert await (await deployed(other, "ci")).get("ci") not in (ci_staging, ci_production)


async def test_an_old_projects_root_token_keeps_working_until_rotated_with_a_warning(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = make_project()
    secret = await age(project, clock, root_tokens=["ci", "backup"])
    old = unbound_root_token(secret, "ci")
    with caplog.at_level(logging.WARNING, logger="bastion.auth"):
        client = await client_for(project)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("root tokens backup, ci were derived" in w for w in warnings), warnings
    assert not any(old in w or secret.decode() in w for w in caplog.messages)
    tokens = client.app.state.service.auth.root_tokens
    assert await is_root(client, old)
    assert await tokens.get("ci") == old  # `bastion root-token get` still prints it
    new = await tokens.rotate("ci")
    assert new != unbound_root_token(secret, "ci", 1)  # rotated: bound to the project
    assert await is_root(client, new) and not await is_root(client, old)
    assert await tokens.unbound_names() == ["backup"]


async def test_a_new_project_never_accepts_the_old_derivation(
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    client = await client_for(make_project())
    tokens = await deployed(client, "ci")
    old = unbound_root_token(SECRET.encode(), "ci")
    assert await tokens.get("ci") != old
    assert not await is_root(client, old)
    assert await tokens.unbound_names() == []
