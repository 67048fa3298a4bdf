"""``bastion serve`` as a real process on a free port, queried over HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from bastion.cli import main

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
PASSWORD = "correct horse battery"

SEEDED = [
    {"title": "Alien", "year": 1979},
    {"title": "Blade Runner", "year": 1982},
    {"title": "Gladiator", "year": 2000},
    {"title": "Point Break", "year": 1991},
    {"title": "The Hurt Locker", "year": 2008},
    {"title": "Lady Bird", "year": 2017},
    {"title": "Little Women", "year": 2019},
]

LOGIN = """mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken }
}"""
CREATE = "mutation ($title: String!) { createMovie(data: {title: $title, year: 2024}) { title } }"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bastion(*args: str, stdin: str | None = None) -> Result:
    """Run a short ``bastion`` command in-process (only ``serve`` needs a real process)."""
    return CliRunner().invoke(main, list(args), input=stdin)


@dataclass
class Server:
    """One ``bastion serve`` process; its stderr goes to a file, read once it has stopped."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    stopped: bool = field(default=False)

    def post(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def data(self, query: str, variables: dict[str, Any] | None = None, token: str = "") -> Any:
        body = self.post(query, variables, token)
        assert "errors" not in body, body
        return body["data"]

    def wait_until_ready(self) -> None:
        """Poll /healthz until it answers, the process exits, or the time is up."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            # Waiting on the process doubles as the poll interval and notices a crash at once.
            try:
                code = self.process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"bastion serve exited with {code}:\n{self.log()}")
        raise AssertionError(f"bastion serve was not ready in {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> str:
        """Stop the process (gracefully, else killed) and return everything it logged."""
        if not self.stopped:
            self.stopped = True
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


Serve = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """Start ``bastion serve ARGS`` in a folder; every process is stopped at teardown."""
    servers: list[Server] = []

    def start(*args: str, cwd: Path = tmp_path) -> Server:
        port = free_port()
        log_path = tmp_path / f"serve-{len(servers)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bastion",
                    "serve",
                    *args,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        servers.append(server)
        server.wait_until_ready()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def test_example_movies_answers_the_seeded_movies(serve: Serve, tmp_path: Path) -> None:
    server = serve("--example", "movies")
    # The exact request of the README (curl -X POST -H 'Content-Type: application/json').
    response = httpx.post(
        f"{server.url}/graphql",
        content=b'{"query":"{ movies { title year } }"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"data": {"movies": SEEDED}}

    people = server.data("{ people(orderBy: [born_ASC]) { name movies { title } } }")["people"]
    assert [p["name"] for p in people] == ["Ridley Scott", "Kathryn Bigelow", "Greta Gerwig"]
    assert [m["title"] for m in people[0]["movies"]] == ["Alien", "Blade Runner", "Gladiator"]

    # The example was copied beside the command, with its database inside it.
    assert (tmp_path / "movies" / "bastion.yml").is_file()
    assert (tmp_path / "movies" / ".bastion" / "data.db").is_file()

    # The access log, on the process's stderr: one line per request, no query string.
    response = httpx.get(
        f"{server.url}/graphql", params={"query": "{ moviesCount }", "variables": '{"x": "pii"}'}
    )
    assert response.json() == {"data": {"moviesCount": 7}}
    assert httpx.put(f"{server.url}/graphql").status_code == 405
    log = server.stop()
    assert "Copied the example project 'movies'" in log
    access = re.findall(r"^.*bastion\.access: (.*)$", log, re.MULTILINE)
    lines = [re.sub(r" \d+\.\dms$", " <ms>", line) for line in access]
    assert set(lines[:-4]) == {"GET /healthz 200 <ms>"}  # the readiness poll
    assert lines[-4:] == [
        "POST /graphql 200 <ms>",
        "POST /graphql 200 <ms>",
        "GET /graphql 200 <ms>",
        "PUT /graphql 405 <ms>",
    ]
    assert "pii" not in log
    assert "moviesCount" not in log


def test_a_second_start_keeps_the_data_and_does_not_seed_again(
    serve: Serve, tmp_path: Path
) -> None:
    first = serve("--example", "movies")
    register = first.data(
        "mutation ($email: String!, $password: String!) { registerUserEmailPassword("
        "input: {email: $email, password: $password}) { accessToken } }",
        {"email": "ada@example.com", "password": PASSWORD},
    )
    token = register["registerUserEmailPassword"]["accessToken"]
    assert first.data(CREATE, {"title": "Mine"}, token) == {"createMovie": {"title": "Mine"}}
    first.stop()

    second = serve("--example", "movies")
    titles = [m["title"] for m in second.data("{ movies { title } }")["movies"]]
    assert titles == [m["title"] for m in SEEDED] + ["Mine"]
    # The account and the signing secret were kept too: the old token still names the user.
    viewer = second.data("{ viewer { user { email } } }", token=token)
    assert viewer == {"viewer": {"user": {"email": "ada@example.com"}}}
    log = second.stop()
    assert "Copied the example project" not in log
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["movies"]


def test_an_init_project_serves_and_accepts_create_movie(serve: Serve, tmp_path: Path) -> None:
    project = tmp_path / "myapp"
    init = bastion("init", str(project))
    assert init.exit_code == 0, init.output
    user = bastion(
        "users",
        "create",
        "--project",
        str(project),
        "--email",
        "ada@example.com",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert user.exit_code == 0, user.output

    server = serve("myapp")
    assert server.data("{ movies { title } }") == {"movies": []}

    anonymous = server.post(CREATE, {"title": "Nope"})
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    login = server.data(LOGIN, {"email": "ada@example.com", "password": PASSWORD})
    token = login["loginEmailPassword"]["accessToken"]
    created = server.data(CREATE, {"title": "Alien"}, token)
    assert created == {"createMovie": {"title": "Alien"}}
    assert server.data("{ movies { title year } }") == {
        "movies": [{"title": "Alien", "year": 2024}]
    }
    assert (tmp_path / "myapp" / ".bastion" / "data.db").is_file()
