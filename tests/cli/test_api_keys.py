"""`bastion api-keys` and `bastion users prune-anonymous`, checked through the running API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bastion.cli import main
from bastion.tools.clock import FrozenClock
from tests.conftest import served, write_project

BASE = "/api/client/v2.0/app/test-app/auth/providers"
PROVIDERS = {"anon-user": {"enabled": True}, "api-key": {"enabled": True}}
SCHEMA = "type Note { text: String! owner: User @relation(onDelete: CASCADE) }\n"


def cli(*args: str) -> Result:
    """Run ``bastion ARGS``."""
    return CliRunner().invoke(main, list(args))


async def acli(*args: str) -> Result:
    """``cli`` from an async test: the command runs its own event loop, in a thread."""
    return await asyncio.to_thread(cli, *args)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with anonymous logins and API keys on."""
    return write_project(tmp_path / "p", SCHEMA, auth={"providers": PROVIDERS})


async def test_server_key_lifecycle(project: Path) -> None:
    made = await acli("api-keys", "create", "reports-job", "--project", str(project))
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert len(key) >= 43
    async with served(project) as http:
        login = await http.post(f"{BASE}/api-key/login", json={"key": key})
        assert login.status_code == 200, login.text
        profile = await http.get(
            "/api/client/v2.0/auth/profile",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )
        assert profile.json()["type"] == "server"
    listed = await acli("api-keys", "list", "--project", str(project))
    assert listed.exit_code == 0
    assert listed.output.startswith("reports-job ") and "enabled" in listed.output
    assert key not in listed.output
    assert "last used never" not in listed.output  # the login above used it
    twice = await acli("api-keys", "create", "reports-job", "--project", str(project))
    assert twice.exit_code == 1 and "already exists" in twice.output
    gone = await acli("api-keys", "delete", "reports-job", "--project", str(project))
    assert gone.exit_code == 0, gone.output
    async with served(project) as http:
        login = await http.post(f"{BASE}/api-key/login", json={"key": key})
        assert login.status_code == 401
    missing = await acli("api-keys", "delete", "reports-job", "--project", str(project))
    assert missing.exit_code == 1 and "No server API key named 'reports-job'" in missing.output


def test_api_keys_need_the_provider(tmp_path: Path) -> None:
    project = write_project(tmp_path / "off", SCHEMA)
    result = cli("api-keys", "create", "job", "--project", str(project))
    assert result.exit_code == 1
    assert "auth.providers.api-key.enabled: true" in result.output


async def test_prune_anonymous_removes_only_old_unused_ones(project: Path) -> None:
    now = datetime.now(UTC)
    old_clock = FrozenClock(now - timedelta(days=40))
    async with served(project, old_clock) as http:
        old = (await http.post(f"{BASE}/anon-user/login", json={})).json()
        kept_busy = (await http.post(f"{BASE}/anon-user/login", json={})).json()
        note = {
            "query": "mutation ($o: ID!) "
            '{ createNote(data: {text: "t", owner: {connect: {id: $o}}}) { id } }'
        }
        made = await http.post(
            "/graphql",
            json={**note, "variables": {"o": old["user_id"]}},
            headers={"Authorization": f"Bearer {old['access_token']}"},
        )
        assert "errors" not in made.json(), made.json()
    async with served(project, FrozenClock(now - timedelta(days=20))) as http:
        # 20 days ago the busy one refreshed its session, and a new one was made.
        refreshed = await http.post(
            "/api/client/v2.0/auth/session",
            headers={"Authorization": f"Bearer {kept_busy['refresh_token']}"},
        )
        assert refreshed.status_code == 201
        recent = (await http.post(f"{BASE}/anon-user/login", json={})).json()
    result = await acli(
        "users", "prune-anonymous", "--older-than", "30d", "--project", str(project)
    )
    assert result.exit_code == 0, result.output
    assert "Deleted 1 anonymous user" in result.output
    listed = (await acli("users", "list", "--project", str(project))).output
    assert old["user_id"] not in listed
    assert kept_busy["user_id"] in listed and recent["user_id"] in listed
    async with served(project) as http:
        notes = await http.post("/graphql", json={"query": "{ notesCount }"})
        assert notes.json()["data"] == {"notesCount": 0}  # its data went with it (CASCADE)


@pytest.mark.parametrize("value", ["30", "d", "-1d", "1y", ""])
def test_prune_needs_a_duration(project: Path, value: str) -> None:
    result = cli("users", "prune-anonymous", "--older-than", value, "--project", str(project))
    assert result.exit_code == 2
    assert "is not a duration like 30d" in result.output
