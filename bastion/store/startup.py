"""Why a database could not be used at start, said in one line.

At start the first contact with the database is the schema sync. When it fails because the
database is unreachable, refuses the credentials or does not exist, the operator needs the
URL (password hidden) and the driver's reason, not a traceback; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from sqlalchemy import exc
from sqlalchemy.engine import URL

from bastion.errors import BastionError, ProjectError, Unavailable
from bastion.store.failures import RETRY_UNREACHABLE_SECONDS, meaning

# SQLSTATE classes that mean "this URL is wrong", not "retry later": 28 invalid
# authorization (user, password), 3D000 no such database.
_SETTING_STATES = ("28", "3D000")


def shown_url(url: URL) -> str:
    """A database URL as it may be printed or logged: the driver's name and password left out."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def start_failure(url: URL, error: BaseException) -> BastionError | None:
    """The one-line error of a start that could not use the database at ``url``, or None
    when ``error`` is a bug."""
    original = error.orig if isinstance(error, exc.DBAPIError) and error.orig else error
    cause = _cause(original)
    state = getattr(original, "sqlstate", None)
    if isinstance(state, str) and state.startswith(_SETTING_STATES):
        return ProjectError([f"bastion.yml: database.url: {shown_url(url)}: {cause}"])
    known = meaning(error)
    if isinstance(known, Unavailable):
        return Unavailable(
            f"cannot reach the database at {shown_url(url)}: {cause}", RETRY_UNREACHABLE_SECONDS
        )
    return known


def _cause(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
