"""Fixtures of the providers' tests: ``stitch_for`` (a project with the given providers, and a
client of the Stitch routes), to log in through both doors."""

from tests.http.stitch.conftest import stitch_for

__all__ = ["stitch_for"]
