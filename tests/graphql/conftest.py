"""Fixtures of the engine's tests: the auth tests' ``auth`` and ``auth_for`` (a project with
sign-up on), for the credential fields."""

from tests.auth.conftest import auth, auth_for

__all__ = ["auth", "auth_for"]
