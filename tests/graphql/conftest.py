"""Fixtures of the engine's tests: the auth tests' ``auth`` and ``auth_for`` (a project with
sign-up on), for the credential fields; ``world``, a seeded project with rules, for the read
path's."""

from collections.abc import Iterator

import pytest

from tests.auth.conftest import auth, auth_for
from tests.graphql.world import World, started_world

__all__ = ["auth", "auth_for", "world"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A project with row and field rules, seeded, shared by a test module."""
    with started_world(tmp_path_factory.mktemp("world") / "project") as started:
        yield started
