"""A refresh the server committed but the client never heard back from can be retried.

The server is killed (SIGKILL) right after it answered a refresh that the client is taken not
to have received; a new server on the same project answers the retry with the same token pair,
because the successor of a refresh token is derived from it, not stored. The server's clock is
frozen (libfaketime) so the restart takes no time on it: the retry is within the reuse
interval, however slow the machine. Past the interval, the same token is a theft again.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from bastion.auth.settings import AuthConfig
from tests.conftest import unauthenticated, write_project
from tests.e2e.conftest import FakeClock, Serve, Server

PASSWORD = "correct horse battery"
REFRESH = """mutation ($t: String!) {
  refreshToken(input: {refreshToken: $t}) { accessToken refreshToken refreshTokenLifetime }
}"""
REGISTER = """mutation ($e: String!, $p: String!) {
  registerUserEmailPassword(input: {email: $e, password: $p}) { accessToken refreshToken }
}"""
VIEWER = "{ viewer { user { email } } }"


def _refresh(server: Server, token: str) -> Any:
    return server.post(REFRESH, {"t": token})


def test_a_refresh_whose_answer_was_lost_is_answered_again_after_a_crash(
    serve: Serve, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "project",
        "type Note { text: String! }",
        auth={"providers": {"local-userpass": {"signup": True}}},
    )
    clock = FakeClock(tmp_path / "faketime", frozen=True)
    first = serve(str(project), env=clock.env())
    login = first.data(REGISTER, {"e": "ann@example.com", "p": PASSWORD})
    token = login["registerUserEmailPassword"]["refreshToken"]

    lost = _refresh(first, token)["data"]["refreshToken"]  # committed; the answer is "lost"
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()

    second = serve(str(project), env=clock.env())
    retried = _refresh(second, token)["data"]["refreshToken"]
    assert retried == lost  # the same pair, access token included
    assert second.data(VIEWER, token=retried["accessToken"]) == {
        "viewer": {"user": {"email": "ann@example.com"}}
    }

    # Past the interval the old token is reuse: the session ends, the retried pair with it.
    clock.advance(AuthConfig().refresh_reuse_interval + 1)
    again = _refresh(second, token)
    assert again["errors"][0]["extensions"]["code"] == "INVALID_REFRESH_TOKEN"
    assert unauthenticated(second.post(VIEWER, token=retried["accessToken"])) == "SESSION_REVOKED"
