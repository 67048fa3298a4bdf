"""``bastion prune``: what is past its retention goes; ``--dry-run`` only counts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bastion.cli import main
from tests.conftest import write_project

PASSWORD = "correct horse battery"


def test_prune_says_what_it_deletes_or_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", retention={"audit_days": 1})
    runner = CliRunner()
    monkeypatch.chdir(project)
    created = runner.invoke(
        main,
        ["users", "create", "--email", "ada@example.com", "--password-stdin", "--project", "."],
        input=PASSWORD,
    )
    assert created.exit_code == 0, created.output
    # Nothing is old yet (the soak in tests/auth/test_retention.py moves the clock).
    first = runner.invoke(main, ["prune", "--dry-run", "--project", str(project)])
    assert first.exit_code == 0, first.output
    assert first.output == (
        "would delete: 0 sessions, 0 refresh tokens, 0 audit events, 0 throttle rows\n"
    )
    done = runner.invoke(main, ["prune", "--project", str(project)])
    assert done.output == "deleted: 0 sessions, 0 refresh tokens, 0 audit events, 0 throttle rows\n"


def test_a_bad_retention_is_refused_with_its_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", retention={"audit_days": 0})
    result = CliRunner().invoke(main, ["prune", "--project", str(project)])
    assert result.exit_code == 1
    assert "retention.audit_days" in result.output
