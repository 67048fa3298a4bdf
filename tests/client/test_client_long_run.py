"""The issue's "done means": log in once, query for over three token lifetimes, see no error.

The one test of the suite that waits in real time (about 35 s): the server's clock cannot be
moved from here, and this is what the client has to survive.
"""

from __future__ import annotations

import time

from bastion.client import Client
from tests.client.conftest import LIFETIME, PASSWORD, Server

PACE_SECONDS = 0.5
RUN_SECONDS = 3.5 * LIFETIME


def test_queries_across_three_lifetimes_never_fail(server: Server, strict_server: Server) -> None:
    renewing_email, strict_email = server.sign_up(), strict_server.sign_up()
    access_tokens: set[str] = set()
    with Client(server.url) as renewing, Client(strict_server.url) as strict:
        renewing.login_email_password(renewing_email, PASSWORD)
        strict.login_email_password(strict_email, PASSWORD)
        started = time.monotonic()
        while time.monotonic() - started < RUN_SECONDS:
            assert renewing.execute("{ viewer { user { email } } }") == {
                "viewer": {"user": {"email": renewing_email}}
            }
            assert strict.execute("{ notes { text } viewer { user { email } } }") == {
                "notes": [],
                "viewer": {"user": {"email": strict_email}},
            }
            tokens = renewing.auth.tokens
            assert tokens is not None
            access_tokens.add(tokens.access_token)
            time.sleep(PACE_SECONDS)
    # Renewed in X-Authorization after half of each lifetime, the token never needed a refresh.
    assert server.refreshes(renewing_email) == 0
    assert len(access_tokens) > 3
    # Without renewals, the client refreshed before each expiry (at 8 s of 10).
    assert strict_server.refreshes(strict_email) >= 3
