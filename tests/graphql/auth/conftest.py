"""Fixtures of the auth contract's tests: ``stitch`` and ``stitch_for`` (every provider on, and
a client of the Stitch routes), for the providers' fields."""

from tests.http.stitch.conftest import stitch, stitch_for

__all__ = ["stitch", "stitch_for"]
