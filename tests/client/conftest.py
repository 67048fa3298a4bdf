"""Real ``bastion serve`` processes for the client tests, with 10-second access tokens.

Two servers live for the whole session: one renews tokens in ``X-Authorization`` (the default),
the other does not, so that the client has to refresh. Every test signs up its own user, so
tests share the servers without sharing state. Refreshes are counted on the server side, in
the database: each login and each refresh inserts one row into the refresh-token table.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bastion.client import Client
from tests import databases
from tests.conftest import write_project

LIFETIME = 10  # seconds: the shortest access-token lifetime bastion.yml accepts
PASSWORD = "correct horse battery"
SECRET = "client-tests-" + "k" * 40
STARTUP_SECONDS = 60.0  # a bound, not a wait: imports alone take seconds on a busy machine
SCHEMA = "type Note { text: String! }"

_COUNT_SQL = """
SELECT (SELECT count(*) FROM _bastion_refresh_token AS r
          JOIN _bastion_session AS s ON s.id = r.session_id
          JOIN "User" AS u ON u.id = s.user_id WHERE u.email = ?),
       (SELECT count(*) FROM _bastion_session AS s
          JOIN "User" AS u ON u.id = s.user_id WHERE u.email = ?)
"""


@dataclass(frozen=True)
class Server:
    """A running ``bastion serve`` and its project folder."""

    root: Path
    base_url: str

    @property
    def url(self) -> str:
        """The GraphQL endpoint."""
        return f"{self.base_url}/graphql"

    def refreshes(self, email: str) -> int:
        """How many refreshes the server made for ``email``'s sessions (rows minus logins)."""
        [(rows, sessions)] = databases.query(self.root, _COUNT_SQL, (email, email))
        return int(rows) - int(sessions)

    def sign_up(self) -> str:
        """A new user's email (password :data:`PASSWORD`)."""
        email = f"u{uuid.uuid4().hex[:12]}@example.com"
        with Client(self.url) as client:
            client.register(email, PASSWORD, first_name="Ada")
        return email


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"bastion serve did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def _serve(root: Path, **auth: object) -> Iterator[tuple[Server, Callable[[], None]]]:
    """Start ``bastion serve`` on ``root``; yields the server and a wait-until-ready."""
    write_project(
        root,
        SCHEMA,
        auth={
            "access_token_lifetime": LIFETIME,
            "providers": {"local-userpass": {"signup": True}},
            # Strict reuse detection: a copied token used elsewhere is caught at once, without
            # waiting out the default reuse interval (which tests/auth covers).
            "refresh_reuse_interval": 0,
            **auth,
        },
    )
    databases.use_for_process(root, lasting=True)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = root / "serve.log"
    env = {**os.environ, "BASTION_SECRET": SECRET}
    with log.open("wb") as output:
        # The log goes to a file: a pipe nobody reads would fill up and stall the server.
        process = subprocess.Popen(
            [sys.executable, "-m", "bastion", "serve", str(root), "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(root, base_url), lambda: _wait_until_ready(process, base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """Both servers, started side by side: a start-up takes seconds (imports), twice as one."""
    with (
        _serve(tmp_path_factory.mktemp("renewing")) as (renewing, renewing_ready),
        _serve(tmp_path_factory.mktemp("strict"), renew_in_response_header=False) as (
            strict,
            strict_ready,
        ),
    ):
        renewing_ready()
        strict_ready()
        yield renewing, strict


@pytest.fixture(scope="session")
def server(servers: tuple[Server, Server]) -> Server:
    """A server that renews access tokens in ``X-Authorization`` after half their life."""
    return servers[0]


@pytest.fixture(scope="session")
def strict_server(servers: tuple[Server, Server]) -> Server:
    """A server that never renews in a header: only the refresh keeps a session going."""
    return servers[1]


@pytest.fixture
def email(server: Server) -> str:
    """A fresh user of :func:`server`."""
    return server.sign_up()


class ShiftedClock:
    """The real time, moved forward by hand: puts a client at its token's expiry, no sleep.

    Only the client's clock moves; the server's does not, and needs not: a client refreshes
    by its own reckoning of the expiry, and the server answers a refresh at any time.
    """

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def reach(self, moment: datetime | None) -> None:
        """Move the clock to ``moment`` (a token's expiry)."""
        assert moment is not None
        self.offset = moment - datetime.now(UTC)
