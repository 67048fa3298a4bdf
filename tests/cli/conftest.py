"""Fixtures of the command tests: ``started`` (a project of BASE holding data), from the store
tests."""

from tests.store.test_sync import started

__all__ = ["started"]
