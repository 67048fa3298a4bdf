"""``auth.throttle:`` — brute-force limits, on by default.

Per client IP, limits in the ``limits`` library's notation (``150/5 minutes``); per account,
a growing delay and then temporary locks. ``storage`` is a ``limits`` storage URI: memory by
default (one process), ``async+redis://host:6379`` to share counters between workers (install
``bastion[redis]``).
"""

from __future__ import annotations

from typing import Annotated

from limits import parse
from pydantic import Field, field_validator

from bastion.tools.section import Section


class ThrottleConfig(Section):
    """Limits on credential attempts; each attempt counts, however it is batched."""

    enabled: bool = True
    storage: str = "async+memory://"
    # Logins (every provider) and refreshes, per client IP.
    login_per_ip: str = "150/5 minutes"
    # Anonymous logins and sign-ups, per client IP: each makes a user.
    signup_per_ip: str = "30/hour"
    # Per account: from this many failures each further attempt waits 1 s, 2 s, 4 s...
    delay_after: Annotated[int, Field(ge=1, le=1000)] = 5
    # ...and from this many it is locked: 1 minute, doubling up to max_lock_minutes.
    lock_after: Annotated[int, Field(ge=1, le=1000)] = 10
    lock_minutes: Annotated[int, Field(ge=1, le=1440)] = 1
    max_lock_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    # A failure older than this is forgotten (the count starts again).
    reset_after_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 12

    @field_validator("login_per_ip", "signup_per_ip")
    @classmethod
    def _limit(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                "expected a limit like 150/5 minutes, 30/hour or 10 per second"
            ) from None
        return value

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith("async+"):
            raise ValueError("expected an async limits storage: async+memory:// or async+redis://")
        return value
