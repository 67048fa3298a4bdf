"""Fixtures of the command tests: ``auth`` and ``auth_for`` (a project with sign-up on) from the
auth tests, ``started`` (a project of BASE holding data) from the store tests."""

from tests.auth.conftest import auth, auth_for
from tests.store.test_sync import started

__all__ = ["auth", "auth_for", "started"]
