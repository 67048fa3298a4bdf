"""bastion.yml: defaults, and a message naming the key, its place and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import ProjectError
from bastion.project.config import DEFAULT_DATABASE_URL, load_config, parse_config

MINIMAL = "name: Movies\napp_id: movies-app\n"


def problems(text: str) -> list[str]:
    """The problem lines a bad project file is refused with."""
    with pytest.raises(ProjectError) as caught:
        parse_config(text)
    return caught.value.problems


def test_defaults() -> None:
    config = parse_config(MINIMAL)
    assert (config.name, config.app_id) == ("Movies", "movies-app")
    assert config.database.url == DEFAULT_DATABASE_URL == "sqlite:///.bastion/data.db"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8000)
    assert config.schema_file == "schema.graphql"
    assert config.seed is None
    assert config.permissions == {}


def test_every_key_given() -> None:
    config = parse_config(
        """\
name: Movies
app_id: movies_app-2
database:
  url: postgresql://bastion:secret@db.internal/movies
server:
  host: 0.0.0.0
  port: 9000
schema: model/schema.graphql
seed: seed.graphql
"""
    )
    assert config.app_id == "movies_app-2"
    assert config.database.url == "postgresql://bastion:secret@db.internal/movies"
    assert (config.server.host, config.server.port) == ("0.0.0.0", 9000)
    assert config.schema_file == "model/schema.graphql"
    assert config.seed == "seed.graphql"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data.db",
        "sqlite:////var/lib/bastion/data.db",
        "sqlite+aiosqlite:///data.db",
        "postgresql://u@localhost/db",
        "postgresql+asyncpg://u:p@localhost:5433/db",
    ],
)
def test_database_urls_accepted(url: str) -> None:
    assert parse_config(MINIMAL + f"database:\n  url: {url}\n").database.url == url


@pytest.mark.parametrize("port", [1, 80, 65535])
def test_ports_accepted(port: int) -> None:
    assert parse_config(MINIMAL + f"server:\n  port: {port}\n").server.port == port


BAD_CONFIGS = [
    pytest.param(
        MINIMAL + "srever:\n  port: 9000\n",
        ["bastion.yml:3:1: unknown key 'srever'"],
        id="unknown-key",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: 9000\n  hostname: example.org\n",
        ["bastion.yml:5:3: unknown key 'server.hostname'"],
        id="unknown-nested-key",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: 70000\n",
        ["bastion.yml:4:9: server.port: Input should be less than or equal to 65535 (got 70000)"],
        id="port-too-high",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: 0\n",
        ["bastion.yml:4:9: server.port: Input should be greater than or equal to 1 (got 0)"],
        id="port-zero",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: eighty\n",
        ["bastion.yml:4:9: server.port: Input should be a valid integer (got 'eighty')"],
        id="port-not-a-number",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: true\n",
        ["bastion.yml:4:9: server.port: Input should be a valid integer (got True)"],
        id="port-boolean",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: 80.5\n",
        ["bastion.yml:4:9: server.port: Input should be a valid integer (got 80.5)"],
        id="port-float",
    ),
    pytest.param(
        MINIMAL + "server: 8000\n",
        [
            "bastion.yml:3:9: server: Input should be a valid dictionary or instance of "
            "ServerConfig (got 8000)"
        ],
        id="section-not-a-mapping",
    ),
    pytest.param(
        "name: Movies\napp_id: 42\n",
        ["bastion.yml:2:9: app_id: Input should be a valid string (got 42)"],
        id="app-id-number",
    ),
    pytest.param(
        'name: Movies\napp_id: "-movies"\n',
        [
            "bastion.yml:2:9: app_id: expected 1 to 64 letters, digits, '-' or '_', "
            "starting with a letter or digit (got '-movies')"
        ],
        id="app-id-leading-dash",
    ),
    pytest.param(
        'name: Movies\napp_id: "movies app"\n',
        [
            "bastion.yml:2:9: app_id: expected 1 to 64 letters, digits, '-' or '_', "
            "starting with a letter or digit (got 'movies app')"
        ],
        id="app-id-space",
    ),
    pytest.param(
        "name: Movies\napp_id: " + "a" * 65 + "\n",
        [
            "bastion.yml:2:9: app_id: expected 1 to 64 letters, digits, '-' or '_', "
            f"starting with a letter or digit (got '{'a' * 65}')"
        ],
        id="app-id-too-long",
    ),
    pytest.param(
        'name: ""\napp_id: movies\n',
        ["bastion.yml:1:7: name: String should have at least 1 character (got '')"],
        id="empty-name",
    ),
    pytest.param(
        MINIMAL + "database:\n  url: mysql://u@localhost/db\n",
        [
            "bastion.yml:4:8: database.url: expected a sqlite:/// or postgresql:// URL "
            "(got 'mysql://u@localhost/db')"
        ],
        id="database-unsupported",
    ),
    pytest.param(
        MINIMAL + "database:\n  url: data.db\n",
        [
            "bastion.yml:4:8: database.url: expected a URL such as sqlite:///.bastion/data.db "
            "(got 'data.db')"
        ],
        id="database-not-a-url",
    ),
    pytest.param(
        MINIMAL + "database:\n  url: sqlite://\n",
        [
            "bastion.yml:4:8: database.url: an SQLite URL needs a file path, like "
            "sqlite:///.bastion/data.db (got 'sqlite://')"
        ],
        id="database-sqlite-without-path",
    ),
    pytest.param(
        MINIMAL + 'schema: ""\n',
        ["bastion.yml:3:9: schema: String should have at least 1 character (got '')"],
        id="empty-schema",
    ),
    pytest.param(
        "app_id: movies\n",
        ["bastion.yml: name: this key is required"],
        id="missing-name",
    ),
    pytest.param(
        "server:\n  port: 9000\n",
        ["bastion.yml: name: this key is required", "bastion.yml: app_id: this key is required"],
        id="missing-name-and-app-id",
    ),
    pytest.param(
        MINIMAL + "name: Films\n",
        ["bastion.yml:3:1: duplicate key 'name'"],
        id="duplicate-key",
    ),
    pytest.param(
        MINIMAL + "server:\n  port: 9000\n  port: 9001\n",
        ["bastion.yml:5:3: duplicate key 'server.port'"],
        id="duplicate-nested-key",
    ),
    pytest.param(
        "name: [Movies\napp_id: movies\n",
        ["bastion.yml:2:7: invalid YAML: expected ',' or ']', but got ':'"],
        id="invalid-yaml-flow",
    ),
    pytest.param(
        "name: Movies\n\tapp_id: movies\n",
        ["bastion.yml:2:1: invalid YAML: found character '\\t' that cannot start any token"],
        id="invalid-yaml-tab",
    ),
    pytest.param(
        MINIMAL + "---\nname: Other\n",
        [
            "bastion.yml:3:1: invalid YAML: expected a single document in the stream, "
            "but found another document"
        ],
        id="two-documents",
    ),
    pytest.param(
        "- name: Movies\n- app_id: movies\n",
        ["bastion.yml: expected a mapping of keys (name, app_id, ...)"],
        id="list",
    ),
    pytest.param(
        "movies\n",
        ["bastion.yml: expected a mapping of keys (name, app_id, ...)"],
        id="scalar",
    ),
    pytest.param(
        "",
        ["bastion.yml: expected a mapping of keys (name, app_id, ...)"],
        id="empty-file",
    ),
    pytest.param(
        "# only a comment\n",
        ["bastion.yml: expected a mapping of keys (name, app_id, ...)"],
        id="only-comments",
    ),
    pytest.param(
        MINIMAL + "auth:\n  emails:\n    allow_mixed_scripts: yes please\n",
        [
            "bastion.yml:5:26: auth.emails.allow_mixed_scripts: Input should be a valid boolean "
            "(got 'yes please')"
        ],
        id="emails-allow-mixed-scripts-not-a-boolean",
    ),
    pytest.param(
        MINIMAL + "auth:\n  emails:\n    allow_mixed_script: true\n",
        ["bastion.yml:5:5: unknown key 'auth.emails.allow_mixed_script'"],
        id="emails-unknown-key",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_bad_configs_are_refused(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_every_problem_is_reported_at_once() -> None:
    text = """\
name: Movies
app_id: "bad id"
server:
  port: 0
  hots: example.org
color: blue
"""
    assert problems(text) == [
        "bastion.yml:2:9: app_id: expected 1 to 64 letters, digits, '-' or '_', "
        "starting with a letter or digit (got 'bad id')",
        "bastion.yml:4:9: server.port: Input should be greater than or equal to 1 (got 0)",
        "bastion.yml:5:3: unknown key 'server.hots'",
        "bastion.yml:6:1: unknown key 'color'",
    ]


def test_load_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bastion.yml").write_text(MINIMAL + "server:\n  port: 99999\n", encoding="utf-8")
    with pytest.raises(ProjectError) as caught:
        load_config(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'bastion.yml'}:4:9: server.port: "
        "Input should be less than or equal to 65535 (got 99999)"
    ]


def test_load_config_reads_the_file(tmp_path: Path) -> None:
    (tmp_path / "bastion.yml").write_text(MINIMAL, encoding="utf-8")
    assert load_config(tmp_path).app_id == "movies-app"


def test_load_config_without_a_project_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        load_config(tmp_path)
    assert caught.value.problems == [
        f"{tmp_path / 'bastion.yml'}: not found (run `bastion init {tmp_path}` to make a project "
        "there)"
    ]


def test_load_config_without_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ProjectError) as caught:
        load_config(missing)
    assert caught.value.problems == [f"{missing}: no such project folder"]


def test_max_header_bytes_defaults_to_16_kib_and_is_checked() -> None:
    assert parse_config(MINIMAL).http.max_header_bytes == 16_384
    assert parse_config(MINIMAL + "http:\n  max_header_bytes: 8192\n").http.max_header_bytes == 8192
    assert problems(MINIMAL + "http:\n  max_header_bytes: 100\n") == [
        "bastion.yml:4:21: http.max_header_bytes: Input should be greater than or equal to 4096 "
        "(got 100)"
    ]
    assert problems(MINIMAL + 'http:\n  max_header_bytes: "16384"\n') == [
        "bastion.yml:4:21: http.max_header_bytes: Input should be a valid integer (got '16384')"
    ]
