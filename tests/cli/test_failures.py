"""What a failing command prints and its exit code, for each kind of cause."""

from __future__ import annotations

import errno
import sqlite3

import click
from click.testing import CliRunner

from bastion.cli.failures import BastionGroup, ExitCode, explain
from bastion.errors import ProjectError, StorageFull


def test_a_project_error_is_its_lines_and_exit_1() -> None:
    failure = explain(ProjectError(["bastion.yml: name: required", "schema.graphql:1:1: bad"]))
    assert failure.lines == ["bastion.yml: name: required", "schema.graphql:1:1: bad"]
    assert failure.exit_code == ExitCode.PROJECT


def test_a_cause_deep_in_the_chain_is_named() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/srv/app/.bastion/secret")
        except OSError as inner:
            raise RuntimeError("writing the secret failed") from inner
    except RuntimeError as outer:
        failure = explain(outer)
    assert failure.lines == [
        "/srv/app/.bastion/secret: no space left on the device; free some space and start again"
    ]
    assert failure.exit_code == ExitCode.ENVIRONMENT


def test_a_locked_sqlite_database_names_the_file() -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorname = "SQLITE_BUSY"
    failure = explain(error, "/srv/app/.bastion/data.db")
    assert failure.lines == [
        "the database /srv/app/.bastion/data.db is locked by another program; stop it or "
        "wait, then start again"
    ]


def test_anything_else_is_a_bug_on_one_line() -> None:
    failure = explain(KeyError("x\ny"))
    assert failure.exit_code == ExitCode.BUG
    assert len(failure.lines) == 1
    assert "--debug" in failure.lines[0]


def test_the_group_prints_the_line_and_exits_with_its_code() -> None:
    @click.group(cls=BastionGroup)
    def main() -> None:
        pass

    @main.command()
    def boom() -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/srv/app/.bastion")

    result = CliRunner().invoke(main, ["boom"])
    assert result.exit_code == ExitCode.ENVIRONMENT
    assert result.output == (
        "error: /srv/app/.bastion: the filesystem is read-only; put the project on a writable "
        "filesystem\n"
    )


def test_a_database_state_is_the_machine_not_the_project() -> None:
    failure = explain(StorageFull("The database's disk is full; nothing was written"))
    assert failure.exit_code == ExitCode.ENVIRONMENT
    assert failure.lines == ["The database's disk is full; nothing was written"]
