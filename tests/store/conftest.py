"""Fixtures shared by the store tests: ``started`` (a project of BASE holding data)."""

from tests.store.test_sync import started

__all__ = ["started"]
