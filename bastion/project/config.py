"""The project file, ``bastion.yml``: its shape, its defaults and its validation.

Validation is pydantic's; this module only turns its errors into lines a person can act on:
``bastion.yml:4:9: server.port: Input should be less than or equal to 65535 (got 70000)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bastion.auth.retention_settings import RetentionConfig
from bastion.auth.settings import AuthConfig
from bastion.errors import ProjectError
from bastion.functions.settings import FunctionConfig, check_function_names
from bastion.graphql.settings import GraphQLConfig
from bastion.mail.settings import MailConfig
from bastion.permissions.rules import TypeRules
from bastion.tools.network import parse_networks
from bastion.tools.section import Section

MAX_HEADER_BYTES = 16_384
"""The default cap on a request's line and headers together (``http.max_header_bytes``)."""

PROJECT_FILE = "bastion.yml"
DEFAULT_DATABASE_URL = "sqlite:///.bastion/data.db"
# The app id names the app in Stitch client URLs and in token audiences: keep it URL-safe.
_APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class PoolConfig(Section):
    """``database.pool:`` — the connections a PostgreSQL database keeps (per worker)."""

    # Connections kept open, and opened beyond that under load (closed again when returned).
    size: Annotated[int, Field(ge=1, le=1000, strict=True)] = 10
    max_overflow: Annotated[int, Field(ge=0, le=1000, strict=True)] = 10
    # Seconds a request waits for a free connection before it fails.
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0


class DatabaseConfig(Section):
    """``database:`` — where the data lives."""

    url: str = DEFAULT_DATABASE_URL
    pool: PoolConfig = PoolConfig()
    # Behind PgBouncer in transaction mode: no statement cache per connection (see
    # docs/postgresql.md).
    pgbouncer_transaction_mode: bool = False

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("expected a URL such as sqlite:///.bastion/data.db") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
            # An in-memory database would lose every user and session at each restart.
            raise ValueError("an SQLite URL needs a file path, like sqlite:///.bastion/data.db")
        return value


class ServerConfig(Section):
    """``server:`` — where ``bastion serve`` listens."""

    host: str = "127.0.0.1"
    # Strict: in lax mode pydantic reads `port: true` as port 1.
    port: Annotated[int, Field(ge=1, le=65535, strict=True)] = 8000
    # Processes answering on the port (`bastion serve --workers`); see docs/postgresql.md.
    workers: Annotated[int, Field(ge=1, le=64)] = 1


# An origin is a scheme, a host and maybe a port: exactly what browsers send in `Origin`.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


class CorsConfig(Section):
    """``http.cors:`` — which web pages (origins) may call the API from a browser."""

    # Empty: closed, browsers refuse cross-origin calls. "*" opens it to every page, which is
    # safe only because Bastion uses bearer tokens, never cookies.
    origins: list[str] = []

    @field_validator("origins")
    @classmethod
    def _origin_shape(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r}: an origin is scheme://host[:port] with no path or trailing "
                    "slash, like https://app.example.com (or * for every origin)"
                )
        return value


class HttpConfig(Section):
    """``http:`` — what the HTTP layer allows."""

    cors: CorsConfig = CorsConfig()
    # Request bodies are read up to this size and refused with 413 past it.
    max_body_bytes: Annotated[int, Field(ge=1024, le=100_000_000)] = 1_000_000
    # The request line and headers together are refused with 431 past this size.
    max_header_bytes: Annotated[int, Field(ge=4096, le=1_048_576, strict=True)] = MAX_HEADER_BYTES
    # Proxies whose X-Forwarded-For is believed (addresses or networks); none by default.
    trusted_proxies: list[str] = []
    # The API explorer at /graphql for browsers: unset, on in development mode and off in
    # production (see docs/console.md).
    explorer: bool | None = None
    # The admin console at /console: unset, on in development mode and off in production.
    console: bool | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)
        return value


class ProjectConfig(Section):
    """The whole of ``bastion.yml``."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    app_id: str
    # production: introspection for root tokens only, no "Did you mean" suggestions.
    mode: Literal["development", "production"] = "development"
    database: DatabaseConfig = DatabaseConfig()
    server: ServerConfig = ServerConfig()
    http: HttpConfig = HttpConfig()
    graphql: GraphQLConfig = GraphQLConfig()
    schema_file: Annotated[str, Field(alias="schema", min_length=1)] = "schema.graphql"
    seed: str | None = None
    auth: AuthConfig = AuthConfig()
    # How mail goes out (confirmations, resets, login codes): bastion.mail.
    mail: MailConfig = MailConfig()
    # How long rows that no longer count are kept (sessions, refresh tokens, audit events).
    retention: RetentionConfig = RetentionConfig()
    permissions: dict[str, TypeRules] = {}
    # Names of the permanent root tokens `bastion deploy` keeps (`bastion root-token get NAME`).
    root_tokens: list[str] = []
    # Python handlers: resolvers of new root fields, and hooks around writes.
    functions: dict[str, FunctionConfig] = {}

    @field_validator("functions")
    @classmethod
    def _function_names(cls, value: dict[str, FunctionConfig]) -> dict[str, FunctionConfig]:
        return check_function_names(value)

    @field_validator("root_tokens")
    @classmethod
    def _root_token_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _APP_ID.fullmatch(name):
                raise ValueError(
                    f"{name!r}: a root token name is 1 to 64 letters, digits, '-' or '_'"
                )
        if len(set(value)) != len(value):
            raise ValueError("each root token name may be listed once")
        return value

    @field_validator("app_id")
    @classmethod
    def _app_id_shape(cls, value: str) -> str:
        # Said in words: pydantic's own message would show the user a regular expression.
        if not _APP_ID.fullmatch(value):
            raise ValueError(
                "expected 1 to 64 letters, digits, '-' or '_', starting with a letter or digit"
            )
        return value


def _positions(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], str]:
    """Map each key path of a YAML document to ``line:column`` of its value."""
    found = {path: f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found.update(_positions(value, (*path, key.value)))
            # An unknown key is best pointed at by the key itself.
            found[(*path, key.value, "__key__")] = (
                f"{key.start_mark.line + 1}:{key.start_mark.column + 1}"
            )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.update(_positions(item, (*path, index)))
    return found


def _duplicate_keys(node: yaml.Node, file: str, path: tuple[Any, ...] = ()) -> list[str]:
    """A key given twice in one mapping: YAML keeps the last silently, we refuse it."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                mark = key.start_mark
                dotted = ".".join(str(part) for part in (*path, key.value))
                problems.append(
                    f"{file}:{mark.line + 1}:{mark.column + 1}: duplicate key '{dotted}'"
                )
            seen.add(key.value)
            problems.extend(_duplicate_keys(value, file, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, file, (*path, index)))
    return problems


def _describe(error: dict[str, Any], file: str, positions: dict[tuple[Any, ...], str]) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(part) for part in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        at = positions.get((*loc, "__key__"))
        return f"{file}:{at}: unknown key '{key}'" if at else f"{file}: unknown key '{key}'"
    if error["type"] == "missing":
        return f"{file}: {key}: this key is required"
    where = positions.get(loc)
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    suffix = f" (got {got!r})" if not isinstance(got, dict | list) else ""
    return f"{file}:{where}: {key}: {message}{suffix}" if where else f"{file}: {key}: {message}"


def parse_config(text: str, file: str = PROJECT_FILE) -> ProjectConfig:
    """Validate the text of ``bastion.yml``; raises :class:`ProjectError` naming each problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        if context and problem.startswith("but "):
            # "but found another document" only makes sense after its context.
            problem = f"{context}, {problem}"
        raise ProjectError([f"{where}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ProjectError([f"{file}: expected a mapping of keys (name, app_id, ...)"])
    positions = _positions(node) if node is not None else {}
    problems = _duplicate_keys(node, file) if node is not None else []
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as error:
        problems += [_describe(dict(e), file, positions) for e in error.errors()]
    if problems:
        raise ProjectError(problems)
    return config


def load_config(root: Path) -> ProjectConfig:
    """Read and validate ``root/bastion.yml``."""
    path = root / PROJECT_FILE
    if not root.is_dir():
        raise ProjectError([f"{root}: no such project folder"])
    if not path.is_file():
        raise ProjectError(
            [f"{path}: not found (run `bastion init {root}` to make a project there)"]
        )
    return parse_config(path.read_text(encoding="utf-8"), str(path))
