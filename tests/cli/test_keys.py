"""``bastion keys rotate | list | prune``: on a real project folder, never printing a key."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import jwt
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization

from bastion.auth.access_tokens import AccessTokens
from bastion.auth.key_material import generate_key
from bastion.auth.keys import KEYS_ENV, KeySet
from bastion.project import load_project
from bastion.project.service import Service
from bastion.tools.clock import Clock, FrozenClock, system_clock
from tests.conftest import write_project

T = TypeVar("T")


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``bastion ARGS``."""
    from bastion.cli import main

    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "p")


def with_keys(
    project: Path, action: Callable[[KeySet], Awaitable[T]], clock: Clock = system_clock
) -> T:
    """Run ``action`` on the keys of a process of its own on the project's database."""

    async def run() -> T:
        service = Service(load_project(project), clock)
        await service.start()
        try:
            return await action(service.auth.keys)
        finally:
            await service.stop()

    return asyncio.run(run())


def kids(project: Path) -> set[str | None]:
    async def listed(keys: KeySet) -> set[str | None]:
        return {s.kid for s in keys.statuses()}

    return with_keys(project, listed)


def private_texts(project: Path) -> list[str]:
    """How each stored key's private part would print: PEM lines, or the base64 secret."""

    async def texts(keys: KeySet) -> list[str]:
        found: list[str] = []
        for status in keys.statuses():
            key = keys.verifying_key(status.kid)
            assert key is not None
            if isinstance(key.material, bytes):
                found.append(base64.urlsafe_b64encode(key.material).decode())
                continue
            pem = key.material.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            found += [line for line in pem.splitlines() if "-----" not in line and line]
        return found

    return with_keys(project, texts)


def assert_no_material(output: str, project: Path) -> None:
    texts = private_texts(project)
    assert texts and all(text not in output for text in texts)
    assert "PRIVATE KEY" not in output


def rows(output: str) -> dict[str, list[str]]:
    """The lines of ``keys list`` by kid."""
    lines = output.splitlines()
    assert lines[0].split() == ["KID", "ALG", "CREATED", "RETIRED", "STATUS"]
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def test_list_makes_the_first_key_and_shows_no_material(project: Path) -> None:
    result = cli("keys", "list", str(project))
    assert result.exit_code == 0, result.output
    ((kid, row),) = rows(result.output).items()
    assert row[0] == "EdDSA" and row[2] == "-" and row[3] == "signing"
    assert kids(project) == {kid}
    assert not (project / ".bastion" / "keys").exists()  # the database holds them
    assert_no_material(result.output, project)


def test_hmac_keys_are_not_printed_either(tmp_path: Path) -> None:
    project = write_project(tmp_path / "h", auth={"signing": {"algorithm": "HS256"}})
    listed = cli("keys", "list", str(project))
    assert listed.exit_code == 0, listed.output
    ((_, row),) = rows(listed.output).items()
    assert row[0] == "HS256"
    assert_no_material(listed.output, project)


def test_rotate_publishes_a_key_that_signs_later_and_is_audited(project: Path) -> None:
    first = cli("keys", "list", str(project))
    (old,) = rows(first.output)
    rotated = cli("keys", "rotate", str(project))
    assert rotated.exit_code == 0, rotated.output
    match = re.search(r"Published key (\S+) \(EdDSA\); it signs from (\S+),", rotated.output)
    assert match is not None, rotated.output
    new, activates = match[1], datetime.fromisoformat(match[2])
    assert timedelta(minutes=9) < activates - datetime.now(UTC) <= timedelta(minutes=10)
    assert_no_material(rotated.output, project)
    listed = rows(cli("keys", "list", str(project)).output)
    assert listed[new][3:5] == ["pending", "(signs"]
    assert listed[old][3] == "signing" and listed[old][2] != "-"  # retired when new signs
    audit = cli("audit", "tail", "--type", "key_rotated", "--project", str(project))
    assert audit.exit_code == 0, audit.output
    assert f'"kid": "{new}"' in audit.output and '"algorithm": "EdDSA"' in audit.output


def test_prune_keeps_keys_within_their_window(project: Path) -> None:
    # Dates from twenty minutes ago: a key retired ten minutes ago, one of its tokens alive.
    clock = FrozenClock(datetime.now(UTC) - timedelta(minutes=20))

    async def sign_and_rotate(keys: KeySet) -> tuple[str | None, str | None]:
        old = keys.signing_key().kid
        token, _ = AccessTokens(keys, "i", "a", 1800, clock).issue("user", "session")
        assert jwt.get_unverified_header(token)["kid"] == old
        return old, (await keys.rotate("ES256")).kid

    old_kid, new_kid = with_keys(project, sign_and_rotate, clock)
    assert cli("keys", "list", str(project)).exit_code == 0
    kept = cli("keys", "prune", str(project))
    assert kept.exit_code == 0, kept.output
    assert f"kept {old_kid} (EdDSA) until " in kept.output
    assert "latest token it signed" in kept.output
    assert f"kept {new_kid} (ES256): signing" in kept.output
    assert "Removed 0 keys." in kept.output
    assert kids(project) == {old_kid, new_kid}
    forced = cli("keys", "prune", "--force", str(project))
    assert forced.exit_code == 0, forced.output
    assert f"removed {old_kid} (EdDSA) before its tokens expired (--force)" in forced.output
    assert kids(project) == {new_kid}
    audit = cli("audit", "tail", "--type", "key_pruned", "--project", str(project))
    assert f'"kid": "{old_kid}"' in audit.output and "forced" in audit.output


def test_prune_removes_a_key_whose_tokens_are_over(project: Path) -> None:
    clock = FrozenClock(datetime.now(UTC) - timedelta(minutes=20))

    async def rotate(keys: KeySet) -> str | None:
        old = keys.signing_key().kid  # signed nothing
        await keys.rotate("EdDSA")
        return old

    old_kid = with_keys(project, rotate, clock)
    pruned = cli("keys", "prune", str(project))
    assert pruned.exit_code == 0, pruned.output
    assert f"removed {old_kid} (EdDSA)\n" in pruned.output
    assert "Removed 1 key." in pruned.output


def test_keys_from_the_environment_are_listed_not_rotated(project: Path) -> None:
    clock = FrozenClock()
    key = generate_key("ES256", clock(), clock())
    assert not isinstance(key.material, bytes)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.material))
    jwk.update(kid="prod-2030", alg="ES256")
    env = {KEYS_ENV: json.dumps({"keys": [jwk]})}
    listed = cli("keys", "list", str(project), env=env)
    assert listed.exit_code == 0, listed.output
    assert rows(listed.output)["prod-2030"][0] == "ES256"
    assert jwk["d"] not in listed.output
    for command in ("rotate", "prune"):
        refused = cli("keys", command, str(project), env=env)
        assert refused.exit_code == 1
        assert f"error: the signing keys come from {KEYS_ENV}" in refused.output
    assert not (project / ".bastion" / "keys").exists()


@pytest.mark.parametrize("command", ["rotate", "list", "prune"])
def test_no_project_is_a_usage_error(tmp_path: Path, command: str) -> None:
    for folder in (tmp_path / "missing", tmp_path):
        result = cli("keys", command, str(folder))
        assert result.exit_code == 2, result.output
        assert "is not a project folder (no bastion.yml" in result.output
    assert list(tmp_path.iterdir()) == []  # nothing made there


@pytest.mark.parametrize(
    "args", [["prune", "--bogus"], ["rotate", "--algorithm", "RS256"], ["list", "a", "b"], ["x"]]
)
def test_bad_options_are_usage_errors(project: Path, args: list[str]) -> None:
    result = cli("keys", *args, str(project))
    assert result.exit_code == 2, result.output
    assert not (project / ".bastion").exists()


def test_an_invalid_project_exits_1(tmp_path: Path) -> None:
    project = write_project(tmp_path / "bad", auth={"signing": {"algorithm": "none"}})
    result = cli("keys", "list", str(project))
    assert result.exit_code == 1
    assert "auth.signing.algorithm" in result.output


def test_help_lists_the_commands() -> None:
    result = cli("keys", "--help")
    assert result.exit_code == 0
    for word in ("rotate", "list", "prune"):
        assert word in result.output
