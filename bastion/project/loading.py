"""A project: its folder, its validated configuration and its data model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bastion.errors import ProjectError
from bastion.functions.loader import Function, load_functions
from bastion.model import Model, parse_model
from bastion.permissions.rules import TypePolicy, check_rules
from bastion.project.config import ProjectConfig, load_config
from bastion.store.database import PoolSettings

DATA_DIR = ".bastion"


@dataclass(frozen=True)
class Project:
    """Everything Bastion knows about one project folder."""

    root: Path
    config: ProjectConfig
    model: Model
    policies: dict[str, TypePolicy]
    # The handlers of `functions:`, imported from the project folder.
    functions: dict[str, Function] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        """``.bastion/`` inside the project: the SQLite file, later the secret and keys."""
        return self.root / DATA_DIR

    @property
    def database_url(self) -> URL:
        """The async SQLAlchemy URL of ``database.url`` (see :func:`async_database_url`)."""
        return async_database_url(self.config.database.url, self.root)

    @property
    def database_pool(self) -> PoolSettings:
        """The connection pool ``database:`` asks for (used on PostgreSQL)."""
        database = self.config.database
        return PoolSettings(
            size=database.pool.size,
            max_overflow=database.pool.max_overflow,
            timeout=database.pool.timeout,
            pgbouncer_transaction_mode=database.pgbouncer_transaction_mode,
        )

    @property
    def seed_file(self) -> Path | None:
        """The GraphQL document run once on a new database, if the project has one."""
        return self.root / self.config.seed if self.config.seed else None


def async_database_url(url_text: str, root: Path) -> URL:
    """The async SQLAlchemy URL of a ``database.url``: a relative SQLite path is taken from
    the project folder ``root``, and a PostgreSQL URL's libpq-style ``sslmode`` is given to
    asyncpg as ``ssl``."""
    url = make_url(url_text)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.is_absolute():
            path = root / path
        return url.set(drivername="sqlite+aiosqlite", database=str(path))
    url = url.set(drivername="postgresql+asyncpg")
    if "sslmode" in url.query:
        # libpq's name for it, which asyncpg calls ssl (same values: require, verify-full...).
        mode = url.query["sslmode"]
        url = url.difference_update_query(["sslmode"]).update_query_dict({"ssl": mode})
    return url


def load_project(path: str | Path) -> Project:
    """Load and validate a project folder; raises :class:`ProjectError` naming each problem."""
    root = Path(path).resolve()
    config = load_config(root)
    schema_path = root / config.schema_file
    if not schema_path.is_file():
        raise ProjectError([f"{schema_path}: schema file not found (bastion.yml: schema)"])
    display = str(
        schema_path.relative_to(Path.cwd())
        if schema_path.is_relative_to(Path.cwd())
        else schema_path
    )
    return assemble_project(root, config, schema_path.read_text(encoding="utf-8"), display)


def assemble_project(root: Path, config: ProjectConfig, schema: str, display: str) -> Project:
    """The project of ``config`` and the text of its schema, its functions imported from
    ``root``; raises :class:`ProjectError` naming each problem. ``display`` names the schema
    in messages."""
    if config.seed and not (root / config.seed).is_file():
        raise ProjectError([f"{root / config.seed}: seed file not found (bastion.yml: seed)"])
    model = parse_model(schema, display)
    policies, problems = check_rules(model, config.permissions, str(root / "bastion.yml"))
    problems += [
        f"bastion.yml: functions.{name}.operation: no type {f.type_name!r} in the model"
        for name, f in config.functions.items()
        if f.type_name is not None and f.type_name not in model.types
    ]
    if problems:
        raise ProjectError(problems)
    functions = load_functions(root, config.functions)
    return Project(root=root, config=config, model=model, policies=policies, functions=functions)
