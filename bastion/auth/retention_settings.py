"""``retention:`` — how long ended sessions, expired refresh tokens and audit events are kept.

The server deletes what is older on a schedule (``every_minutes``), and ``bastion prune`` does
it on demand. Failure counts of the account throttle are deleted once the throttle forgets
them (``auth.throttle.reset_after_hours``) and no lock runs: they need no setting of their own.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bastion.tools.section import Section


class RetentionConfig(Section):
    """Days each kind of row is kept once it no longer counts."""

    # Sessions that ended (logged out, revoked, or past their end) are deleted this many days
    # after their end, with their refresh tokens.
    sessions_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 30
    # Refresh tokens (used or not) are deleted this many days after they expire. A used token
    # of a live session is kept until then: a second use of it is how reuse is detected.
    refresh_tokens_days: Annotated[int, Field(ge=1, le=3650, strict=True)] = 7
    # Audit events are deleted this many days after they were recorded.
    audit_days: Annotated[int, Field(ge=1, le=36500, strict=True)] = 90
    # How often a running server prunes (each worker; the deletes do not collide).
    every_minutes: Annotated[int, Field(ge=1, le=10080, strict=True)] = 60
