"""The server secret: made once with mode 0600, or taken from the environment; never short."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion import create_app
from bastion.auth.secret import SECRET_ENV, load_secret
from bastion.errors import ProjectError
from bastion.project import Project
from tests.auth.conftest import Auth


def test_secret_is_made_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    first = load_secret(tmp_path / ".bastion")
    path = tmp_path / ".bastion" / "secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(first) >= 32
    assert load_secret(tmp_path / ".bastion") == first
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temp file left behind


def test_secret_from_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "e" * 32)
    assert load_secret(tmp_path) == b"e" * 32
    assert not (tmp_path / "secret").exists()


@pytest.mark.parametrize("value", ["", "short", "x" * 31])
def test_short_secret_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, value)
    with pytest.raises(ProjectError, match="at least 32 bytes"):
        load_secret(tmp_path)


def test_short_secret_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    (tmp_path / "secret").write_bytes(b"tiny")
    with pytest.raises(ProjectError, match="at least 32 bytes"):
        load_secret(tmp_path)


@pytest.mark.parametrize("secret", [b"", b"x" * 31])
def test_short_injected_secret_is_refused(
    make_project: Callable[..., Project], secret: bytes
) -> None:
    with pytest.raises(ProjectError, match="at least 32 bytes"):
        create_app(make_project(), secret=secret)


async def test_two_apps_on_one_folder_share_the_secret(
    tmp_path: Path,
    make_project: Callable[..., Project],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two workers of one project: a token issued by one is accepted by the other.
    monkeypatch.delenv(SECRET_ENV, raising=False)
    project = make_project(auth={"providers": {"local-userpass": {"signup": True}}})
    first = Auth(await client_for(project))
    second = Auth(await client_for(project))
    token = (await first.register("ann@example.com"))["accessToken"]
    assert await second.viewer(token) == await first.viewer(token)
    assert await second.viewer(token) is not None
