"""``bastion serve`` as a real process on a free port, queried over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from bastion.cli import main
from tests import databases
from tests.e2e.conftest import Serve, post_with_huge_header

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


def bastion(*args: str, stdin: str | None = None) -> Result:
    """Run a short ``bastion`` command in-process (only ``serve`` needs a real process)."""
    return CliRunner().invoke(main, list(args), input=stdin)


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
    assert databases.on_postgresql() or (tmp_path / "movies" / ".bastion" / "data.db").is_file()

    # The access log, on the process's stderr: one line per request, no query string.
    response = httpx.get(
        f"{server.url}/graphql", params={"query": "{ moviesCount }", "variables": '{"x": "pii"}'}
    )
    assert response.json() == {"data": {"moviesCount": 7}}
    assert httpx.put(f"{server.url}/graphql").status_code == 405
    log = server.stop()
    assert "Copied the example project 'movies'" in log
    access = re.findall(r"^.*bastion\.access: (.*) request_id=[0-9a-f]{16}$", log, re.MULTILINE)
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
    assert databases.on_postgresql() or (tmp_path / "myapp" / ".bastion" / "data.db").is_file()


def test_request_heads_are_capped_by_the_real_server(serve: Serve, tmp_path: Path) -> None:
    root = tmp_path / "capped"
    assert bastion("init", str(root)).exit_code == 0
    config = root / "bastion.yml"
    config.write_text(config.read_text() + "http:\n  max_header_bytes: 8192\n")
    server = serve(str(root))
    query = {"query": "{ __typename }"}
    ok = httpx.post(f"{server.url}/graphql", json=query, headers={"x-pad": "a" * 7000})
    assert ok.json() == {"data": {"__typename": "Query"}}
    response = httpx.post(f"{server.url}/graphql", json=query, headers={"x-pad": "a" * 9000})
    assert response.status_code == 431
    assert response.json()["errors"][0]["extensions"]["code"] == "HEADERS_TOO_LARGE"
    # A head that arrives faster than it is parsed is stopped by uvicorn's own cap, with the
    # same answer, after reading at most the limit and one network read.
    answer = post_with_huge_header(server.url, 2_000_000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"code": "HEADERS_TOO_LARGE"' in answer
    assert server.data("{ __typename }") == {"__typename": "Query"}
