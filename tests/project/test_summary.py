"""The console's project page data: the model and the settings, with every secret masked."""

from __future__ import annotations

from collections.abc import Callable

from bastion.project import Project
from bastion.project.summary import MASK, project_summary


def test_the_database_password_and_secret_settings_are_masked(
    make_project: Callable[..., Project],
) -> None:
    project = make_project(
        "type Note { text: String! }",
        database={"url": "postgresql://bastion:hunter2-secret@db.example:5432/app"},
        root_tokens=["ops"],
    )
    summary = project_summary(project)
    assert summary["name"] and summary["mode"] == "development"
    assert summary["types"] == ["Note", "User"]
    assert summary["schema"].startswith("type Note")
    url = summary["settings"]["database"]["url"]
    assert url == f"postgresql://bastion:{MASK}@db.example:5432/app"
    assert "hunter2" not in str(summary)
    assert summary["settings"]["root_tokens"] == ["ops"]  # names, never tokens
