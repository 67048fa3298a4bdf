"""`bastion users`: create, list, deactivate and activate the accounts of a project."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.auth import SYSTEM
from bastion.cli import main
from bastion.project import load_project
from bastion.project.service import Service
from tests.conftest import write_project

PASSWORD = "correct horse battery"
LOGIN = """
mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken }
}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with the default settings (sign-up off)."""
    return write_project(tmp_path / "project")


def users(project: Path, *args: str, password: str | None = None) -> Result:
    """Run ``bastion users ARGS --project PROJECT``, with ``password`` on standard input."""
    return CliRunner().invoke(main, ["users", *args, "--project", str(project)], input=password)


def create(project: Path, email: str, *args: str, password: str = PASSWORD) -> Result:
    """``bastion users create`` with the password on standard input."""
    return users(
        project, "create", "--email", email, "--password-stdin", *args, password=password + "\n"
    )


def listing(project: Path) -> list[list[str]]:
    """The rows of ``bastion users list``: id, email, username, state."""
    result = users(project, "list")
    assert result.exit_code == 0, result.output
    return [line.split() for line in result.output.splitlines()]


def test_create_and_list(project: Path) -> None:
    result = create(project, "Ann@Example.com", "--username", "ann", "--first-name", "Ann")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Created user ann@example.com (")
    assert PASSWORD not in result.output
    assert create(project, "bob@example.com").exit_code == 0
    rows = listing(project)
    assert [row[1:] for row in rows] == [
        ["ann@example.com", "ann", "active"],
        ["bob@example.com", "-", "active"],
    ]
    assert rows[0][0] in result.output  # the id shown at creation


def test_deactivate_and_activate(project: Path) -> None:
    assert create(project, "ann@example.com").exit_code == 0
    result = users(project, "deactivate", "ANN@example.com")
    assert result.exit_code == 0, result.output
    assert result.output == "Deactivated ANN@example.com\n"
    assert listing(project)[0][-1] == "deactivated"
    result = users(project, "activate", "ann@example.com")
    assert result.exit_code == 0, result.output
    assert listing(project)[0][-1] == "active"


def test_unknown_user(project: Path) -> None:
    result = users(project, "deactivate", "nobody@example.com")
    assert result.exit_code == 1
    assert "error: No user with email nobody@example.com" in result.output


def test_duplicate_email(project: Path) -> None:
    assert create(project, "ann@example.com").exit_code == 0
    result = create(project, "ANN@example.com", password="another password")
    assert result.exit_code == 1
    assert "error: A User with this email already exists" in result.output
    assert len(listing(project)) == 1


def test_duplicate_username(project: Path) -> None:
    assert create(project, "ann@example.com", "--username", "ann").exit_code == 0
    result = create(project, "bob@example.com", "--username", "ann")
    assert result.exit_code == 1
    assert "error: A User with this username already exists" in result.output
    assert len(listing(project)) == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "error: The password must be at least 8 characters"),
        ("x" * 1025, "error: The password must be at most 1024 bytes"),
    ],
)
def test_password_rules(project: Path, password: str, message: str) -> None:
    result = create(project, "ann@example.com", password=password)
    assert result.exit_code == 1
    assert message in result.output
    assert password not in result.output
    assert listing(project) == []


def test_no_password_on_stdin(project: Path) -> None:
    result = users(project, "create", "--email", "ann@example.com", "--password-stdin", password="")
    assert result.exit_code == 2
    assert "no password on standard input" in result.output


def test_password_from_the_prompt(project: Path) -> None:
    # Asked twice, without echo.
    result = users(
        project, "create", "--email", "ann@example.com", password=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_the_project_in_the_current_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(
        main,
        ["users", "create", "--email", "ann@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert len(listing(project)) == 1


def test_a_folder_without_a_project(tmp_path: Path) -> None:
    result = users(tmp_path, "list")
    assert result.exit_code == 1
    assert result.output.startswith("error: ")


async def test_a_created_user_logs_in(project: Path, client_for: Callable[..., Any]) -> None:
    # The CLI runs its own event loop: a thread stands in for the shell's process.
    result = await asyncio.to_thread(create, project, "ann@example.com")
    assert result.exit_code == 0, result.output
    client = await client_for(load_project(project))
    body = await client.gql(LOGIN, {"email": "ann@example.com", "password": PASSWORD})
    assert "errors" not in body, body
    result = await asyncio.to_thread(users, project, "deactivate", "ann@example.com")
    assert result.exit_code == 0, result.output
    body = await client.gql(LOGIN, {"email": "ann@example.com", "password": PASSWORD})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"


def test_an_undecodable_email_is_refused(project: Path) -> None:
    # A non-UTF-8 byte in argv reaches Python as a lone surrogate.
    result = create(project, "ann\udcff@example.com")
    assert result.exit_code == 1
    assert "error: The email address is not valid" in result.output
    assert listing(project) == []


def test_deactivate_finds_the_one_account_an_address_names(project: Path) -> None:
    # Mallory signed up first, then Bob; whatever spelling of his address is typed, Bob's row is
    # the one found, because no other row can hold another spelling of it.
    assert create(project, "mallory@example.com").exit_code == 0
    assert create(project, "bob@example.com").exit_code == 0
    mallory = listing(project)[0][0]

    async def respell() -> dict[str, Any]:
        service = Service(load_project(project))
        await service.start()
        try:
            outcome = await service.executor.run(
                'mutation ($id: ID!) { updateUser(id: $id, data: {email: "BOB@EXAMPLE.COM"}) '
                "{ id } }",
                {"id": mallory},
                viewer=SYSTEM,  # past every rule, as a root token
            )
        finally:
            await service.stop()
        body: dict[str, Any] = outcome.body
        return body

    refused = asyncio.run(respell())
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONFLICT"]
    result = users(project, "deactivate", "Bob@Example.com")
    assert result.exit_code == 0, result.output
    assert [row[1:] for row in listing(project)] == [
        ["mallory@example.com", "-", "active"],
        ["bob@example.com", "-", "deactivated"],
    ]


def test_list_marks_addresses_beyond_ascii(project: Path) -> None:
    assert create(project, "Ivan@\u041f\u0440\u0438\u043c\u0435\u0440.\u0420\u0424").exit_code == 0
    assert create(project, "ann@example.com").exit_code == 0
    result = users(project, "list")
    assert result.exit_code == 0, result.output
    ivan, ann = result.output.splitlines()
    assert "ivan@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444 [non-ASCII: ivan@\\u043f" in ivan
    assert "non-ASCII" not in ann
