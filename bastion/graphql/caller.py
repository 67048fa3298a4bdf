"""Who sends a GraphQL document: what the HTTP edge tells the engine about the client.

The engine knows GraphQL, not HTTP. ``bastion.http`` reads the request once and hands the
executor a :class:`Caller`; the fields that care about the client read it from the context:
credential fields refuse a ``GET`` (a password would land in URLs and logs), and logins,
refreshes and credential functions count attempts per client address and record the user
agent with the session.

It lives in the engine rather than in ``auth`` because the engine and the floors above it
read it, and ``auth`` does not: a login is given a :class:`bastion.auth.logins.LoginClient`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    """The client of one request, as the HTTP edge found it."""

    method: str | None = None
    """The HTTP method (``GET``, ``POST``); None for a document run in-process."""
    ip: str | None = None
    """The client's address, already resolved through ``http.trusted_proxies`` (see
    :mod:`bastion.http.client_ip`); None in-process, where nothing is counted per address."""
    user_agent: str | None = None
    """The ``User-Agent`` header, recorded with a session a login starts."""
    accept_language: str | None = None
    """The ``Accept-Language`` header: the language of a mail when the user has none."""


IN_PROCESS = Caller()
"""The caller of documents run without HTTP: seeding, functions' ``api``, tests."""
