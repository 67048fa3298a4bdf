"""The client's methods against a real server: logins, queries, errors, logout; and the issue's
"done means": log in once, query for over three token lifetimes, see no error."""

from __future__ import annotations

import stat
import time
import uuid
from pathlib import Path

import pytest

from bastion.client import (
    AsyncClient,
    Client,
    ClientError,
    FileTokenStore,
    GraphQLError,
    SessionExpired,
)
from tests.client.conftest import LIFETIME, PASSWORD, Server


def test_login_then_viewer_and_execute(server: Server, email: str) -> None:
    with Client(server.url) as client:
        assert client.viewer() is None
        client.login_email_password(email, PASSWORD)
        user = client.viewer()
        assert user is not None and user["email"] == email and user["firstName"] == "Ada"
        created = client.execute(
            "mutation ($t: String!) { createNote(data: {text: $t}) { text } }", {"t": "hi"}
        )
        assert created == {"createNote": {"text": "hi"}}


def test_wrong_password_raises_invalid_credentials(server: Server, email: str) -> None:
    with Client(server.url) as client, pytest.raises(GraphQLError) as raised:
        client.login_email_password(email, "not the password")
    assert raised.value.code == "INVALID_CREDENTIALS"
    assert raised.value.path == ["loginEmailPassword"]
    assert client.auth.tokens is None


def test_errors_carry_code_path_and_locations(server: Server) -> None:
    with Client(server.url) as client:
        with pytest.raises(GraphQLError) as unauthenticated:
            client.execute("mutation {\n  logoutAll\n}")
        with pytest.raises(GraphQLError) as invalid:
            client.execute("{ nope }")
    assert unauthenticated.value.code == "UNAUTHENTICATED"
    assert unauthenticated.value.path == ["logoutAll"]
    assert unauthenticated.value.locations == [{"line": 2, "column": 3}]
    assert invalid.value.code == "GRAPHQL_VALIDATION_FAILED"
    assert len(invalid.value.errors) == 1


def test_register_logs_the_new_user_in(server: Server) -> None:
    name = f"grace{uuid.uuid4().hex[:8]}"
    with Client(server.url) as client:
        client.register(f"{name}@example.com", PASSWORD, first_name="Grace", username=name)
        user = client.viewer()
    assert user is not None
    assert (user["email"], user["firstName"], user["username"]) == (
        f"{name}@example.com",
        "Grace",
        name,
    )


async def test_login_user_takes_the_token_from_the_response_header(
    server: Server, email: str
) -> None:
    async with AsyncClient(server.url) as client:
        user = await client.login_user(email=email, password=PASSWORD)
        assert user["email"] == email
        tokens = client.auth.tokens
        assert tokens is not None and tokens.refresh_token is None
        viewer = await client.viewer()
        assert viewer is not None and viewer["email"] == email
        with pytest.raises(ClientError):
            await client.refresh()  # loginUser gives no refresh token


def test_explicit_refresh_rotates_the_tokens(server: Server, email: str) -> None:
    with Client(server.url) as client:
        client.login_email_password(email, PASSWORD)
        before = client.auth.tokens
        client.refresh()
        after = client.auth.tokens
        assert before is not None and after is not None
        assert after.refresh_token != before.refresh_token
        assert client.viewer() is not None
    assert server.refreshes(email) == 1


def test_logout_ends_the_session_and_forgets_the_tokens(server: Server, email: str) -> None:
    with Client(server.url) as client:
        client.login_email_password(email, PASSWORD)
        tokens = client.auth.tokens
        assert client.logout() is True
        assert client.auth.tokens is None
        assert client.viewer() is None
        # The session is over on the server too: its tokens are refused.
        assert tokens is not None
        client.auth.use(tokens)
        with pytest.raises(SessionExpired):
            client.viewer()
        assert client.auth.tokens is None


def test_root_token_is_sent_as_is_and_never_dropped(server: Server) -> None:
    # A root token the server does not know is refused; the client has nothing to refresh
    # and keeps the static token instead of treating that as an ended session.
    with Client(server.url) as client:
        client.login_with_root_token("a-root-token-of-the-project")
        with pytest.raises(GraphQLError) as refused:
            client.viewer()
        assert refused.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
        tokens = client.auth.tokens
        assert tokens is not None and tokens.root
    assert "a-root-token" not in (server.root / "serve.log").read_text()


def test_file_store_keeps_a_second_client_logged_in(
    server: Server, email: str, tmp_path: Path
) -> None:
    path = tmp_path / "cli" / "tokens.json"
    with Client(server.url, FileTokenStore(path)) as first:
        first.login_email_password(email, PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with Client(server.url, FileTokenStore(path)) as second:
        user = second.viewer()
        assert user is not None and user["email"] == email
        second.refresh()
    # A third run picks up the tokens the second one refreshed, not the used ones.
    with Client(server.url, FileTokenStore(path)) as third:
        assert third.viewer() is not None
        third.refresh()
        assert third.logout() is True
    assert not path.exists()
    assert server.refreshes(email) == 2


# -- the "done means" ------------------------------------------------------------------
# The one test of the suite that waits in real time (about 35 s): the server's clock cannot be
# moved from here, and this is what the client has to survive.

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
