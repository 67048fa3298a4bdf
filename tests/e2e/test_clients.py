"""Real GraphQL client libraries, driven from node against a real ``bastion serve``.

Two npm folders, each installed once per session from its committed lock (``npm ci``):
``clients/slicknode`` (slicknode-client 0.4.1 with slicknode-auth-email-password 0.1.2, and
slicknode-apollo-link 2.0.1 on @apollo/client 3.14.1) and ``clients/standard`` (Apollo Client
4.3.8 with the ErrorLink refresh pattern, @urql/core 6.0.3 with @urql/exchange-auth 3.0.0).
Each script does what an app does (log in, ask who it is, go on after the access token
expired, log out or be logged out from elsewhere) and prints one JSON line per step, with the
requests that went over the wire; this module asserts on what the app saw and on what the
server recorded.

Nothing sleeps. The server and the node process run under the same libfaketime file, a clock
that stands still unless the test moves it: the Slicknode clients decide that their access
token has expired by their own clock (``Date.now()`` against the lifetime they were told), so
one :meth:`FakeClock.advance` must move both. Monotonic time stays real, so timers and event
loops are undisturbed.

node and npm are required: without them the tests fail (they are not skipped).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import databases
from tests.conftest import write_project
from tests.e2e.conftest import FakeClock, Serve, Server
from tests.e2e.node import drive, npm_install, require_node

CLIENTS = Path(__file__).parent / "clients"
PASSWORD = "correct horse battery"
LIFETIME = 60  # seconds: the access tokens' lifetime
JUMP = 7200  # seconds: far past the access tokens' lifetime and the 30 s leeway

ME = "{ viewer { user { id email } } }"
LOGIN = """mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken }
}"""
REGISTER = """mutation ($email: String!, $password: String!) {
  registerUserEmailPassword(input: {email: $email, password: $password}) { accessToken }
}"""


# -- node on the fake clock ----------------------------------------------------------------


def test_node_follows_the_fake_clock(tmp_path: Path) -> None:
    """What the Slicknode tests rely on: ``Date.now()`` in node is libfaketime's frozen clock
    and jumps when the test moves it, while node's timers keep real time."""
    require_node()
    clock = FakeClock(tmp_path / "faketime", frozen=True)
    assert clock.frozen_at is not None
    probe = """
      const lines = require("node:readline").createInterface({ input: process.stdin });
      const started = performance.now();
      const first = Date.now();
      setTimeout(() => {
        console.log(JSON.stringify([first, Date.now(), performance.now() - started]));
        lines.once("line", () => {
          console.log(JSON.stringify([Date.now()]));
          process.exit(0);
        });
      }, 300);
    """
    with subprocess.Popen(
        ["node", "-e", probe],
        env={**os.environ, **clock.env()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        first, later, elapsed = json.loads(process.stdout.readline())
        clock.advance(JUMP)
        process.stdin.write("\n")
        process.stdin.flush()
        (moved,) = json.loads(process.stdout.readline())
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    assert first == later == clock.frozen_at * 1000  # 300 ms later, the same instant
    assert elapsed >= 290  # a timer still fires on real time
    assert moved == (clock.frozen_at + JUMP) * 1000  # the same file moves node's clock


# -- npm -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slicknode_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """slicknode-client, slicknode-auth-email-password, slicknode-apollo-link on Apollo 3."""
    folder = tmp_path_factory.mktemp("slicknode")
    return npm_install(CLIENTS / "slicknode", folder, [CLIENTS / "steps.js"])


@pytest.fixture(scope="session")
def standard_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Apollo Client 4 and urql 6."""
    folder = tmp_path_factory.mktemp("standard")
    return npm_install(CLIENTS / "standard", folder, [CLIENTS / "steps.js"])


# -- the server ------------------------------------------------------------------------------


def write_clients_project(root: Path) -> Path:
    """Email/password sign-up, 60 s access tokens, a Note anyone reads and users create."""
    return write_project(
        root,
        "type Note { text: String! }\n",
        auth={
            "access_token_lifetime": LIFETIME,
            "providers": {"local-userpass": {"enabled": True, "signup": True}},
        },
        permissions={
            "Note": {"read": "everyone", "create": "authenticated"},
            "User": {"read": {"id": "$viewer.id"}},
        },
    )


@dataclass
class Served:
    """A running ``bastion serve``, the clock it and the scripts read, and its project."""

    server: Server
    clock: FakeClock
    project: Path
    folder: Path

    def register(self, email: str) -> str:
        """Sign a user up over HTTP, as the app's sign-up screen would; their id."""
        token = self.server.data(REGISTER, {"email": email, "password": PASSWORD})
        access = token["registerUserEmailPassword"]["accessToken"]
        user_id: str = self.server.data(ME, token=access)["viewer"]["user"]["id"]
        return user_id

    def log_out_everywhere(self, email: str) -> None:
        """From another device: log in as the user and end all their sessions."""
        login = self.server.data(LOGIN, {"email": email, "password": PASSWORD})
        token = login["loginEmailPassword"]["accessToken"]
        assert self.server.data("mutation { logoutAll }", token=token) == {"logoutAll": True}

    def drive(self, script: Path, email: str) -> dict[str, Any]:
        """Run a client script on the server's clock; ``expire`` moves the clock, ``revoke``
        ends the user's sessions from elsewhere."""
        return drive(
            script,
            {"base": self.server.url, "email": email, "password": PASSWORD},
            env={**os.environ, **self.clock.env()},
            actions={
                "expire": lambda: self.clock.advance(JUMP),
                "revoke": lambda: self.log_out_everywhere(email),
            },
            stderr_path=self.folder / f"{script.stem}.stderr",
            server_log=self.server.log,
        )

    def audit(self, user_id: str) -> list[str]:
        """The types of the audit events of a user, oldest first (read from the database)."""
        rows = databases.query(
            self.project,
            "SELECT type FROM _bastion_audit WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [str(row[0]) for row in rows]

    def notes(self) -> list[str]:
        """Every note's text, as anyone reads them."""
        return [note["text"] for note in self.server.data("{ notes { text } }")["notes"]]


@pytest.fixture
def served(serve: Serve, tmp_path: Path) -> Iterator[Served]:
    """``bastion serve`` of the clients' project on a frozen fake clock."""
    project = write_clients_project(tmp_path / "project")
    clock = FakeClock(tmp_path / "faketime", frozen=True)
    server = serve(str(project), env=clock.env())
    yield Served(server, clock, project, tmp_path)


# -- what the steps must show ----------------------------------------------------------------

Request = tuple[str | None, bool, int, list[str]]


def wire(step: dict[str, Any], skip: tuple[str, ...] = ()) -> list[Request]:
    """The requests of a step in the order they were answered: the field asked first, whether
    a bearer token went along, the status, and the errors' reasons or codes."""
    return [
        (r["field"], r["bearer"], r["status"], r["errors"])
        for r in step["requests"]
        if r["field"] not in skip
    ]


def sees(user_id: str, email: str) -> dict[str, Any]:
    return {"viewer": {"user": {"id": user_id, "email": email}}}


def plain(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """A node without the ``__typename`` Apollo adds to every selection."""
    return None if node is None else {k: v for k, v in node.items() if k != "__typename"}


ANONYMOUS = {"viewer": {"user": None}}


def assert_refused_refresh(answer: dict[str, Any]) -> None:
    """The old refresh token, sent again after logout: refused."""
    assert answer["status"] == 200
    assert [e["extensions"]["code"] for e in answer["body"]["errors"]] == ["INVALID_REFRESH_TOKEN"]


# The audit events of a Slicknode script's user: the sign-up, the script's login, ONE refresh
# for the two requests at expiry, the logout; the second login, the other device's login and
# its logoutAll. A refused refresh is not an event; a refresh token reused past the interval
# would be (refresh_reuse).
SLICKNODE_AUDIT = ["login", "login", "refresh", "logout", "login", "login", "logout"]


def test_slicknode_client(slicknode_folder: Path, served: Served) -> None:
    email = "slick@example.com"
    user_id = served.register(email)
    steps = served.drive(slicknode_folder / "slicknode_client.js", email)
    me = {"data": sees(user_id, email)}

    login = steps["login"]
    assert login["hasAccessToken"] is True
    assert (login["accessTokenLifetime"], login["refreshTokenLifetime"]) == (LIFETIME, 30 * 86400)
    assert wire(login) == [("loginEmailPassword", False, 200, [])]
    assert steps["query"]["result"] == me
    assert wire(steps["query"]) == [("viewer", True, 200, [])]

    # By its own clock the token has expired: each of the two requests refreshes first, with
    # the same refresh token. The second comes within the reuse interval and gets the same
    # pair, so both see the user and the session goes on.
    both = steps["concurrent-refresh"]
    assert both["results"] == [me, me]
    assert sorted(wire(both)) == [
        ("refreshAuthToken", False, 200, []),
        ("refreshAuthToken", False, 200, []),
        ("viewer", True, 200, []),
        ("viewer", True, 200, []),
    ]
    assert both["sentTheLoginsToken"] == [True, True]
    assert both["rotated"] is True and both["loggedIn"] is True
    later = steps["query-after-refresh"]
    assert later["result"] == me
    assert wire(later) == [("viewer", True, 200, [])]

    # client.logout() drops the tokens, then sends logoutUser with the refresh token.
    logout = steps["logout"]
    assert wire(logout) == [("logoutUser", False, 200, [])]
    assert logout["sentTheRefreshToken"] == [True]
    assert logout["hasAccessToken"] is False and logout["hasRefreshToken"] is False
    assert_refused_refresh(logout["refused"])
    assert steps["after-logout"]["result"] == {"data": ANONYMOUS}
    assert wire(steps["after-logout"]) == [("viewer", False, 200, [])]

    # Ended from elsewhere: the app is handed the refusal (200: the client accepts only
    # application/json) until the client's clock expires the token; then its refresh is
    # refused and it logs itself out (its logoutUser, not awaited, may come after).
    revoked = steps["revoked"]
    assert revoked["result"]["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED",
        "reason": "SESSION_REVOKED",
    }
    assert "data" not in revoked["result"]
    assert wire(revoked) == [("viewer", True, 200, ["SESSION_REVOKED"])]
    after = steps["revoked-after-expiry"]
    assert after["result"] == {"data": ANONYMOUS}
    assert after["hasAccessToken"] is False and after["hasRefreshToken"] is False
    assert wire(after, skip=("logoutUser",)) == [
        ("refreshAuthToken", False, 200, ["INVALID_REFRESH_TOKEN"]),
        ("viewer", False, 200, []),
    ]
    assert steps["asked"] == {"expire": 2, "revoke": 1}
    assert served.audit(user_id) == SLICKNODE_AUDIT


def test_slicknode_apollo_link(slicknode_folder: Path, served: Served) -> None:
    email = "link@example.com"
    user_id = served.register(email)
    steps = served.drive(slicknode_folder / "slicknode_apollo.js", email)
    me = {"__typename": "User", "id": user_id, "email": email}

    # The @authenticate login: the link keeps the tokens it answers.
    login = steps["login"]
    assert login["hasAccessToken"] is True and login["accessTokenLifetime"] == LIFETIME
    assert wire(login) == [("loginEmailPassword", False, 200, [])]
    assert steps["query"]["user"] == me
    assert wire(steps["query"]) == [("viewer", True, 200, [])]

    # Two queries at expiry: the link refreshes once and both wait for it.
    both = steps["concurrent-refresh"]
    assert both["users"] == [me, me]
    assert wire(both) == [
        ("refreshAuthToken", False, 200, []),
        ("viewer", True, 200, []),
        ("viewer", True, 200, []),
    ]
    assert both["sentTheLoginsToken"] == [True]
    assert both["rotated"] is True and both["loggedIn"] is True
    assert steps["query-after-refresh"]["user"] == me
    assert wire(steps["query-after-refresh"]) == [("viewer", True, 200, [])]

    # logoutUser with the link's refresh token: the link forgets the tokens.
    logout = steps["logout"]
    assert logout["success"] is True
    assert logout["hasAccessToken"] is False and logout["hasRefreshToken"] is False
    assert wire(logout) == [("logoutUser", True, 200, [])]
    assert_refused_refresh(logout["refused"])
    assert steps["after-logout"]["user"] is None
    assert wire(steps["after-logout"]) == [("viewer", False, 200, [])]

    # Ended from elsewhere: Apollo raises the refusal (200: Apollo 3 accepts */*) until the
    # link's clock expires the token; then the link's refresh is refused and it forgets the
    # tokens, and the query runs as anonymous.
    revoked = steps["revoked"]
    assert revoked["seen"]["error"]["codes"] == ["UNAUTHENTICATED"]
    assert revoked["loggedIn"] is True
    assert wire(revoked) == [("viewer", True, 200, ["SESSION_REVOKED"])]
    after = steps["revoked-after-expiry"]
    assert after["user"] is None
    assert after["hasAccessToken"] is False and after["hasRefreshToken"] is False
    assert wire(after) == [
        ("refreshAuthToken", False, 200, ["INVALID_REFRESH_TOKEN"]),
        ("viewer", False, 200, []),
    ]
    assert steps["asked"] == {"expire": 2, "revoke": 1}
    assert served.audit(user_id) == SLICKNODE_AUDIT


def assert_standard_flow(
    steps: dict[str, Any], served: Served, user_id: str, email: str, text: str
) -> None:
    """Apollo's ErrorLink and urql's authExchange alike, up to the revocation: an expired
    token is refused with UNAUTHENTICATED (401: both accept application/graphql-response+json),
    refreshed once with the expired header along, and the operation retried."""
    user = sees(user_id, email)["viewer"]["user"]
    assert wire(steps["login"]) == [("loginEmailPassword", False, 200, [])]
    assert plain(steps["query"]["user"]) == user
    assert wire(steps["query"]) == [("viewer", True, 200, [])]

    query = steps["query-after-expiry"]
    assert plain(query["user"]) == user
    assert query["refreshes"] == 1 and query["changed"] is True
    assert wire(query) == [
        ("viewer", True, 401, ["ACCESS_TOKEN_EXPIRED"]),
        ("refreshToken", True, 200, []),
        ("viewer", True, 200, []),
    ]

    # createNote needs a user: the refused attempt ran nothing, the retry made one note.
    mutation = steps["mutation-after-expiry"]
    assert mutation["refreshes"] == 2 and mutation["changed"] is True
    assert wire(mutation) == [
        ("createNote", True, 401, ["ACCESS_TOKEN_EXPIRED"]),
        ("refreshToken", True, 200, []),
        ("createNote", True, 200, []),
    ]
    assert served.notes() == [text]
    # Sign-up, login, one refresh per expiry; the other device's login and logoutAll.
    assert served.audit(user_id) == ["login", "login", "refresh", "refresh", "login", "logout"]
    assert steps["asked"] == {"expire": 2, "revoke": 1}


def assert_logged_out(after: dict[str, Any]) -> None:
    """Once logged out, the app runs as anonymous: a query answers no user, and createNote
    is refused without any refresh being tried."""
    assert after["user"] is None
    assert after["note"]["error"]["codes"] == ["FORBIDDEN"]
    assert after["refreshes"] == 3
    assert wire(after) == [("viewer", False, 200, []), ("createNote", False, 200, ["FORBIDDEN"])]


def test_apollo_client(standard_folder: Path, served: Served) -> None:
    email = "apollo@example.com"
    user_id = served.register(email)
    steps = served.drive(standard_folder / "apollo.mjs", email)
    assert steps["mutation-after-expiry"]["note"] == {"__typename": "Note", "text": "from apollo"}
    assert_standard_flow(steps, served, user_id, email, "from apollo")

    # Ended from elsewhere: refused, one refresh, refused too; the app forgets its tokens
    # and the query fails with the refresh's error (nothing retried, no loop).
    revoked = steps["revoked"]
    assert revoked["seen"]["error"]["codes"] == ["INVALID_REFRESH_TOKEN"]
    assert revoked["refreshes"] == 3 and revoked["loggedOut"] is True
    assert wire(revoked) == [
        ("viewer", True, 401, ["SESSION_REVOKED"]),
        ("refreshToken", True, 200, ["INVALID_REFRESH_TOKEN"]),
    ]
    assert_logged_out(steps["after-logout"])


def test_urql(standard_folder: Path, served: Served) -> None:
    email = "urql@example.com"
    user_id = served.register(email)
    steps = served.drive(standard_folder / "urql.mjs", email)
    assert steps["mutation-after-expiry"]["note"] == {"data": {"text": "from urql"}}
    assert_standard_flow(steps, served, user_id, email, "from urql")

    # Ended from elsewhere: refused, one refresh, refused too; the app forgets its tokens.
    # authExchange retries the query once, but the operation still holds the old header, so
    # the app gets the refusal (UNAUTHENTICATED, log in again); no second refresh, no loop.
    revoked = steps["revoked"]
    assert revoked["seen"]["error"]["codes"] == ["UNAUTHENTICATED"]
    assert revoked["refreshes"] == 3 and revoked["loggedOut"] is True
    assert wire(revoked) == [
        ("viewer", True, 401, ["SESSION_REVOKED"]),
        ("refreshToken", True, 200, ["INVALID_REFRESH_TOKEN"]),
        ("viewer", True, 401, ["SESSION_REVOKED"]),
    ]
    assert_logged_out(steps["after-logout"])
