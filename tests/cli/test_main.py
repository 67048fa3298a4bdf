"""The ``bastion`` command: init, schema print, --version, --help, and serve's refusals.

``serve`` runs here only for the paths where it refuses to start; tests/e2e starts it for real.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from bastion import __version__
from bastion.cli import main
from bastion.cli.failures import ExitCode
from bastion.project import load_project
from bastion.project.service import Service
from tests import databases
from tests.conftest import write_project

LOCATED = re.compile(r"^error: (?P<place>\S+:\d+:\d+): (?P<reason>.+)$")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure a ``serve`` test never starts listening: failing to start is what it checks."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("bastion serve started a server")

    monkeypatch.setattr("uvicorn.Server.run", refuse)
    monkeypatch.setattr("uvicorn.supervisors.Multiprocess.run", refuse)


# -- --version and --help ----------------------------------------------------------------


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"bastion, version {__version__}"


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        ([], ["init", "serve", "schema"]),
        (["init"], ["DIRECTORY"]),
        (["serve"], ["DIRECTORY", "--host", "--port", "--example"]),
        (["schema"], ["print"]),
        (["schema", "print"], ["DIRECTORY"]),
    ],
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_on_each_command(args: list[str], mentions: list[str], flag: str) -> None:
    result = run(*args, flag)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: bastion {' '.join(args)}".rstrip() + " ")
    for word in mentions:
        assert word in result.output


def test_unknown_command_is_a_usage_error() -> None:
    result = run("serv")
    assert result.exit_code == 2
    assert "No such command 'serv'" in result.output


# -- init ----------------------------------------------------------------------------------


def test_init_writes_a_project_that_loads(tmp_path: Path) -> None:
    target = tmp_path / "myapp"
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    assert "bastion serve" in result.output
    assert sorted(p.name for p in target.iterdir()) == [
        ".gitignore",
        "bastion.yml",
        "schema.graphql",
    ]
    assert ".bastion/" in (target / ".gitignore").read_text()
    project = load_project(target)
    assert project.config.name == "myapp"
    assert re.fullmatch(r"myapp-[a-z]{5}", project.config.app_id)
    assert "Movie" in project.model.types
    # Nothing runs yet: no database until the first serve.
    assert not (target / ".bastion").exists()


def test_two_inits_get_different_app_ids(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "a" / "app")).exit_code == 0
    assert run("init", str(tmp_path / "b" / "app")).exit_code == 0
    first = load_project(tmp_path / "a" / "app").config.app_id
    second = load_project(tmp_path / "b" / "app").config.app_id
    assert first != second


@pytest.mark.parametrize("name", ["2024", "yes", "null", "a: b", "#x", "Ünïcode app", "[x]"])
def test_init_keeps_any_folder_name_a_string(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    result = run("init", str(target))
    assert result.exit_code == 0, result.output
    config = load_project(target).config
    assert config.name == name
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*-[a-z]{5}", config.app_id)


def test_init_refuses_an_existing_project(tmp_path: Path) -> None:
    target = tmp_path / "myapp"
    assert run("init", str(target)).exit_code == 0
    config = (target / "bastion.yml").read_text()
    (target / "schema.graphql").write_text("type Note { text: String }\n")

    result = run("init", str(target))
    assert result.exit_code == 1
    assert "exists already; nothing was written" in result.output
    assert (target / "bastion.yml").read_text() == config
    assert (target / "schema.graphql").read_text() == "type Note { text: String }\n"


def test_init_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a folder")
    result = run("init", str(target))
    assert result.exit_code == 2
    assert target.read_text() == "not a folder"


# -- schema print --------------------------------------------------------------------------


def test_schema_print_shows_the_generated_api(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "myapp")).exit_code == 0
    result = run("schema", "print", str(tmp_path / "myapp"))
    assert result.exit_code == 0, result.output
    for line in (
        "type Movie implements Node {",
        "movie(id: ID!): Movie",
        "movies(where: MovieWhereInput, orderBy: [MovieOrderByInput!], first: Int, skip: Int):"
        " [Movie!]!",
        "moviesCount(where: MovieWhereInput): Int!",
        "createMovie(data: MovieCreateInput!): Movie!",
        "updateMovie(id: ID!, data: MovieUpdateInput!): Movie!",
        "deleteMovie(id: ID!): Movie!",
        "type User implements Node {",
        "interface Node {",
    ):
        assert line in result.output


def test_schema_print_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    result = run("schema", "print")
    assert result.exit_code == 0, result.output
    assert "type Person implements Node {" in result.output


def test_schema_print_of_a_missing_project(tmp_path: Path) -> None:
    result = run("schema", "print", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.output == f"error: {tmp_path / 'nowhere'}: no such project folder\n"


def test_schema_print_of_a_bad_model_names_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, "type Movie {\n  director: Persn\n}\n")
    monkeypatch.chdir(tmp_path)
    result = run("schema", "print")
    assert result.exit_code == 1
    assert "error: schema.graphql:2:3: unknown type 'Persn'" in result.output


# -- serve refuses to start ----------------------------------------------------------------


def error_lines(result: Result) -> list[tuple[str, str]]:
    """(file:line:column, reason) of each error line serve printed; all must be located."""
    lines = result.stderr.splitlines()
    assert lines, result.output
    located = []
    for line in lines:
        match = LOCATED.match(line)
        assert match, line
        located.append((match["place"], match["reason"]))
    return located


BAD_SCHEMA = """\
type Movie {
  title: Strin
  director: Nobody
  title: String
}

type Movie { year: Int }

type Query { x: Int }

type Person {
  name: String
  __secret: Int
}
"""


def test_serve_with_a_bad_model_prints_one_located_line_per_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    write_project(tmp_path, BAD_SCHEMA)
    monkeypatch.chdir(tmp_path)
    result = run("serve")
    assert result.exit_code == 1
    problems = error_lines(result)
    assert len(problems) == 6
    places = [place for place, _ in problems]
    assert all(place.startswith("schema.graphql:") for place in places)
    reasons = " | ".join(f"{place}: {reason}" for place, reason in problems)
    assert "schema.graphql:2:3: unknown type 'Strin'" in reasons
    assert "schema.graphql:3:3: unknown type 'Nobody'" in reasons
    assert "schema.graphql:7:6: duplicate type 'Movie'" in reasons
    assert "schema.graphql:4:3: duplicate field 'Movie.title'" in reasons
    assert "schema.graphql:9:6: 'Query' is a reserved name" in reasons
    assert "schema.graphql:13:3: invalid field name 'Person.__secret'" in reasons


def test_serve_with_malformed_sdl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    write_project(tmp_path, "type Movie {\n  title: String\n")
    monkeypatch.chdir(tmp_path)
    result = run("serve")
    assert result.exit_code == 1
    [(place, reason)] = error_lines(result)
    assert place == "schema.graphql:3:1"
    assert reason.startswith("syntax error")


def test_serve_names_the_schema_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    write_project(tmp_path / "app", "type Movie {\n  director: Persn\n}\n")
    monkeypatch.chdir(tmp_path)
    result = run("serve", "app")
    assert result.exit_code == 1
    assert error_lines(result) == [
        ("app/schema.graphql:2:3", "unknown type 'Persn' for field Movie.director")
    ]


def test_serve_with_a_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    write_project(tmp_path, server={"port": 70000, "hots": "x"})
    result = run("serve", str(tmp_path))
    assert result.exit_code == 1
    problems = error_lines(result)
    assert all(place.startswith(f"{tmp_path / 'bastion.yml'}:") for place, _ in problems)
    reasons = [reason for _, reason in problems]
    assert any(r.startswith("server.port:") and "65535" in r for r in reasons), reasons
    assert any("server.hots" in r for r in reasons), reasons


def test_serve_with_invalid_yaml(tmp_path: Path, no_server: None) -> None:
    write_project(tmp_path)
    (tmp_path / "bastion.yml").write_text("name: x\napp_id: [unclosed\n")
    result = run("serve", str(tmp_path))
    assert result.exit_code == 1
    [(place, reason)] = error_lines(result)
    assert place.startswith(f"{tmp_path / 'bastion.yml'}:")
    assert "YAML" in reason


def test_serve_without_a_project(tmp_path: Path, no_server: None) -> None:
    result = run("serve", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'nowhere'}: no such project folder\n"


def test_serve_refuses_an_unsafe_schema_change(tmp_path: Path, no_server: None) -> None:
    root = write_project(tmp_path / "app")

    async def add_a_movie() -> None:
        service = Service(load_project(root))
        await service.start()
        try:
            outcome = await service.executor.run(
                'mutation { createMovie(data: {title: "Alien", year: 1979}) { id } }'
            )
            assert "errors" not in outcome.body, outcome.body
        finally:
            await service.stop()

    asyncio.run(add_a_movie())
    schema = (root / "schema.graphql").read_text()
    (root / "schema.graphql").write_text(schema.replace("year: Int", "year: String"))

    result = run("serve", str(root))
    assert result.exit_code == 1
    assert "convert field Movie.year from Int to String" in result.stderr
    assert "nothing was changed; run `bastion deploy`" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--example", "nope"], "no example named 'nope' (available: movies, passwordless)"),
        (["somewhere", "--example", "movies"], "either DIRECTORY or --example"),
        (["--port", "0"], "--port"),
        (["--port", "http"], "--port"),
    ],
)
def test_serve_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_server: None,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("serve", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing copied, nothing created


@pytest.mark.parametrize("name", ["../examples/movies", "/tmp", ".", ".."])
def test_serve_example_takes_only_the_name_of_a_shipped_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("serve", "--example", name)
    assert result.exit_code == 2
    assert "no example named" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_example_never_overwrites_a_folder_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    (tmp_path / "movies").mkdir()
    (tmp_path / "movies" / "schema.graphql").write_text("# my own work\n")
    monkeypatch.chdir(tmp_path)
    result = run("serve", "--example", "movies")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: movies: exists and is not a Bastion project; nothing was copied\n"
    )
    assert [p.name for p in (tmp_path / "movies").iterdir()] == ["schema.graphql"]
    assert (tmp_path / "movies" / "schema.graphql").read_text() == "# my own work\n"


def test_serve_example_with_a_file_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: None
) -> None:
    (tmp_path / "movies").write_text("notes")
    monkeypatch.chdir(tmp_path)
    result = run("serve", "--example", "movies")
    assert result.exit_code == 1
    assert "error: movies: exists and is not a Bastion project" in result.stderr
    assert (tmp_path / "movies").read_text() == "notes"


def test_the_shipped_example_is_a_valid_project(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "examples" / "movies"
    project = load_project(source)
    assert project.config.seed == "seed.graphql"
    assert yaml.safe_load((source / "bastion.yml").read_text())["name"] == "movies"
    result = run("schema", "print", str(source))
    assert result.exit_code == 0, result.output
    assert not (source / ".bastion").exists()


# -- an unreachable database -----------------------------------------------------------------


def closed_port() -> int:
    """A port nothing listens on: the OS gave it and it was closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "command",
    [["serve"], ["users", "create", "--email", "ann@example.com", "--password-stdin", "--project"]],
    ids=["serve", "users create"],
)
def test_an_unreachable_database_is_one_line_naming_it(
    tmp_path: Path, no_server: None, command: list[str]
) -> None:
    url = f"postgresql://bastion:hunter2@127.0.0.1:{closed_port()}/app"
    root = write_project(tmp_path / "app", database={"url": url})
    result = CliRunner().invoke(main, [*command, str(root)], input="correct horse battery\n")
    assert result.exit_code == ExitCode.ENVIRONMENT  # the machine refused: see --help
    shown = url.replace("hunter2", "***")
    assert result.output.splitlines() == [
        f"error: cannot reach the database at {shown}: Connect call failed "
        f"('127.0.0.1', {url.split(':')[3].split('/')[0]}); start it or correct database.url "
        "in bastion.yml"
    ]
    assert "hunter2" not in result.output


def test_credentials_the_server_refuses_are_one_line_naming_the_setting(
    tmp_path: Path, no_server: None
) -> None:
    server = make_url(databases.SERVER)
    url = f"postgresql://nobody_here:pw@{server.host}:{server.port}/postgres"
    root = write_project(tmp_path / "app", database={"url": url})
    result = run("serve", str(root))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: bastion.yml: database.url: {url.replace(':pw@', ':***@')}: "
        'role "nobody_here" does not exist'
    ]


# -- workers ---------------------------------------------------------------------------------


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """What ``serve`` would have asked uvicorn to run, without listening."""
    calls: list[tuple[Any, dict[str, Any]]] = []

    def record(config: Any) -> None:
        calls.append((config.app, {"factory": config.factory, "workers": config.workers}))

    def run_server(server: Any, **_: Any) -> None:
        record(server.config)
        server.started = True

    monkeypatch.setattr("uvicorn.Server.run", run_server)
    monkeypatch.setattr("uvicorn.supervisors.Multiprocess.run", lambda sup: record(sup.config))
    monkeypatch.setattr("os.environ", dict(os.environ))  # serve names the project in it
    return calls


def test_server_workers_on_sqlite_warns_of_the_single_writer(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    root = write_project(
        tmp_path / "app", database={"url": "sqlite:///.bastion/app.db"}, server={"workers": 3}
    )
    result = run("serve", str(root))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(
        "warning: 3 workers on SQLite: reads run side by side, but every write takes the "
        "database file's single write lock in turn"
    )
    [(app, options)] = uvicorn_calls
    assert (app, options["factory"], options["workers"]) == (
        "bastion.cli.workers:worker_app",
        True,
        3,
    )
    assert os.environ["BASTION_SERVE_PROJECT"] == str(root.resolve())


def test_one_worker_runs_the_app_in_the_process(
    tmp_path: Path, uvicorn_calls: list[tuple[Any, dict[str, Any]]]
) -> None:
    root = write_project(tmp_path / "app", server={"workers": 3})
    assert run("serve", str(root), "--workers", "1").exit_code == 0
    [(app, options)] = uvicorn_calls
    assert not isinstance(app, str) and options["workers"] == 1
    assert "warning" not in run("serve", str(root), "--workers", "1").output
