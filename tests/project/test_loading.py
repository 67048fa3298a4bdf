"""A project folder: bastion.yml, the schema file beside it, and where the data goes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.errors import ProjectError
from bastion.project import Project, load_project
from bastion.store.database import PoolSettings
from tests.conftest import write_project

BAD_SCHEMA = "type Movie {\n  title: String\n  director: Persn\n}\n"
GOOD_SCHEMA = "type Movie {\n  title: String\n}\n"
MINIMAL = "name: Movies\napp_id: movies-app\n"


def write_raw(root: Path, config: str, files: dict[str, str]) -> Path:
    """A project folder with this exact bastion.yml (line numbers matter) and these files."""
    root.mkdir(parents=True)
    (root / "bastion.yml").write_text(config, encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def load_problems(path: Path | str) -> list[str]:
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    return caught.value.problems


def test_a_project_folder_loads(make_project: Callable[..., Project]) -> None:
    project = make_project()
    assert project.root.is_absolute()
    assert project.config.app_id == "test-app"
    assert {"User", "Movie", "Person"} <= set(project.model.types)
    assert project.data_dir == project.root / ".bastion"
    assert project.seed_file is None


def test_a_relative_folder_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path / "app")
    monkeypatch.chdir(tmp_path)
    project = load_project("app")
    assert project.root == (tmp_path / "app").resolve()


@pytest.mark.sqlite_only(reason="a PostgreSQL run swaps the default database for its own")
def test_default_database_is_sqlite_under_the_project_folder(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    url = project.database_url
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == str(project.root / ".bastion" / "data.db")


def test_a_relative_sqlite_path_is_taken_from_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path / "app", database={"url": "sqlite:///db/app.db"})
    # Loaded from elsewhere: the path must not follow the current directory.
    monkeypatch.chdir(tmp_path)
    project = load_project(tmp_path / "app")
    assert project.database_url.database == str((tmp_path / "app").resolve() / "db" / "app.db")


def test_an_absolute_sqlite_path_is_kept(
    make_project: Callable[..., Project], tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere" / "data.db"
    project = make_project(database={"url": f"sqlite:///{target}"})
    assert project.database_url.drivername == "sqlite+aiosqlite"
    assert project.database_url.database == str(target)


def test_postgresql_gets_the_async_driver(make_project: Callable[..., Project]) -> None:
    project = make_project(database={"url": "postgresql://bastion:secret@db.internal:5433/movies"})
    url = project.database_url
    assert (url.drivername, url.host, url.port, url.database, url.username) == (
        "postgresql+asyncpg",
        "db.internal",
        5433,
        "movies",
        "bastion",
    )
    assert url.password == "secret"


def test_libpq_sslmode_reaches_asyncpg_as_ssl(make_project: Callable[..., Project]) -> None:
    project = make_project(database={"url": "postgresql://db.internal/app?sslmode=verify-full"})
    assert dict(project.database_url.query) == {"ssl": "verify-full"}


def test_the_pool_settings_come_from_database_pool(make_project: Callable[..., Project]) -> None:
    project = make_project(
        database={
            "url": "postgresql://db.internal/app",
            "pool": {"size": 4, "max_overflow": 0, "timeout": 2.5},
            "pgbouncer_transaction_mode": True,
        }
    )
    assert project.database_pool == PoolSettings(
        size=4, max_overflow=0, timeout=2.5, pgbouncer_transaction_mode=True
    )


def test_schema_file_may_live_elsewhere_in_the_folder(tmp_path: Path) -> None:
    root = write_raw(
        tmp_path / "app",
        MINIMAL + "schema: model/app.graphql\n",
        {"model/app.graphql": GOOD_SCHEMA},
    )
    assert list(load_project(root).model.types) == ["User", "Movie"]


def test_seed_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", seed="seed.graphql")
    (root / "seed.graphql").write_text('mutation { createPerson(data: {name: "A"}) { id } }')
    assert load_project(root).seed_file == root.resolve() / "seed.graphql"


def test_missing_project_folder(tmp_path: Path) -> None:
    assert load_problems(tmp_path / "nowhere") == [
        f"{tmp_path / 'nowhere'}: no such project folder"
    ]


def test_a_file_is_not_a_project_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert load_problems(tmp_path / "notes.txt") == [
        f"{tmp_path / 'notes.txt'}: no such project folder"
    ]


def test_missing_project_file(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    assert load_problems(tmp_path / "app") == [
        f"{tmp_path / 'app' / 'bastion.yml'}: not found "
        f"(run `bastion init {tmp_path / 'app'}` to make a project there)"
    ]


def test_missing_schema_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app")
    (root / "schema.graphql").unlink()
    assert load_problems(root) == [
        f"{root / 'schema.graphql'}: schema file not found (bastion.yml: schema)"
    ]


def test_missing_schema_file_named_in_the_config(tmp_path: Path) -> None:
    root = write_raw(
        tmp_path / "app", MINIMAL + "schema: model.graphql\n", {"schema.graphql": GOOD_SCHEMA}
    )
    assert load_problems(root) == [
        f"{root / 'model.graphql'}: schema file not found (bastion.yml: schema)"
    ]


def test_missing_seed_file(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", seed="seed.graphql")
    assert load_problems(root) == [
        f"{root / 'seed.graphql'}: seed file not found (bastion.yml: seed)"
    ]


def test_a_bad_config_is_reported_with_its_path(tmp_path: Path) -> None:
    # The config is checked first: a bad model behind it waits for the next round.
    root = write_raw(
        tmp_path / "app", MINIMAL + "server:\n  port: 0\n", {"schema.graphql": BAD_SCHEMA}
    )
    assert load_problems(root) == [
        f"{root / 'bastion.yml'}:4:9: server.port: "
        "Input should be greater than or equal to 1 (got 0)"
    ]


def test_a_bad_model_is_reported_with_the_schema_path(tmp_path: Path) -> None:
    root = write_project(tmp_path / "app", schema=BAD_SCHEMA)
    assert load_problems(root) == [
        f"{root / 'schema.graphql'}:3:3: unknown type 'Persn' for field Movie.director"
    ]


def test_the_schema_path_is_relative_to_the_current_folder_when_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path / "app", schema=BAD_SCHEMA)
    monkeypatch.chdir(tmp_path)
    assert load_problems("app") == [
        "app/schema.graphql:3:3: unknown type 'Persn' for field Movie.director"
    ]
