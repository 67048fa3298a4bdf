"""Root tokens: declared in bastion.yml, made by deploy, fetched, rotated and revoked by the CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests import databases
from tests.conftest import served, unauthenticated, write_project

SCHEMA = "type Secret { text: String! }\n"
# Nobody but root may touch Secret: the type has no rules.
RULES: dict[str, object] = {}


def cli(*args: str) -> Result:
    """Run ``bastion ARGS``."""
    from bastion.cli import main

    return CliRunner().invoke(main, list(args))


async def acli(*args: str) -> Result:
    """``cli`` from an async test (the command runs its own event loop)."""
    return await asyncio.to_thread(cli, *args)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project declaring two root tokens."""
    return write_project(tmp_path / "p", SCHEMA, permissions=RULES, root_tokens=["ci", "backup"])


async def _is_root(project: Path, token: str) -> bool:
    async with served(project) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ viewer { isRoot } secrets { text } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if unauthenticated(body) == "ACCESS_TOKEN_INVALID":
            return False  # refused whole: nobody at all
        return bool(body["data"]["viewer"]["isRoot"]) and "errors" not in body


async def test_deploy_get_use_rotate_revoke(project: Path) -> None:
    deployed = await acli("deploy", str(project))
    assert deployed.exit_code == 0, deployed.output
    assert "created root token ci" in deployed.output
    assert "created root token backup" in deployed.output
    again = await acli("deploy", str(project))
    assert "nothing to change" in again.output
    token = (await acli("root-token", "get", "ci", "--project", str(project))).stdout.strip()
    assert token.startswith("bastion_root_")
    assert (
        await acli("root-token", "get", "ci", "--project", str(project))
    ).stdout.strip() == token
    # A root token reads a type whose rules allow nobody else.
    assert await _is_root(project, token)
    async with served(project) as http:
        made = await http.post(
            "/graphql",
            json={"query": 'mutation { createSecret(data: {text: "s"}) { text } }'},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.json() == {"data": {"createSecret": {"text": "s"}}}
        anonymous = await http.post("/graphql", json={"query": "{ secrets { text } }"})
        assert anonymous.json() == {"data": {"secrets": []}}
        refused = await http.post(
            "/graphql", json={"query": 'mutation { createSecret(data: {text: "x"}) { text } }'}
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # The database holds no usable token.
    stored = databases.query(project, "SELECT * FROM _bastion_root_token")
    assert stored and token not in repr(stored)
    listed = (await acli("root-token", "list", "--project", str(project))).output
    assert listed.splitlines()[0].startswith("backup ") and "ci " in listed
    assert token not in listed
    rotated = await acli("root-token", "rotate", "ci", "--project", str(project))
    assert rotated.exit_code == 0
    new = rotated.stdout.strip()
    assert new != token and new.startswith("bastion_root_")
    assert not await _is_root(project, token)
    assert await _is_root(project, new)
    # Dropped from bastion.yml: deploy revokes it and says so.
    config = yaml.safe_load((project / "bastion.yml").read_text())
    config["root_tokens"] = ["backup"]
    (project / "bastion.yml").write_text(yaml.safe_dump(config))
    revoked = await acli("deploy", str(project))
    assert "revoked root token ci" in revoked.output
    assert not await _is_root(project, new)
    missing = await acli("root-token", "get", "ci", "--project", str(project))
    assert missing.exit_code == 2
    assert "no root token named 'ci'" in missing.output


def test_unknown_name_exits_2(project: Path) -> None:
    for command in ("get", "rotate"):
        result = cli("root-token", command, "nope", "--project", str(project))
        assert result.exit_code == 2, result.output
        assert "no root token named 'nope'" in result.output


def test_bad_root_token_names_are_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "bad", SCHEMA, root_tokens=["ok", "not ok", "ok"])
    result = cli("deploy", str(project))
    assert result.exit_code == 1
    assert "root_tokens" in result.output and "'not ok'" in result.output


async def test_root_tokens_are_not_refreshed_or_logged_out(project: Path) -> None:
    await acli("deploy", str(project))
    token = (await acli("root-token", "get", "ci", "--project", str(project))).stdout.strip()
    async with served(project) as http:
        headers = {"Authorization": f"Bearer {token}"}
        for query in (
            "mutation { logoutAll }",
            f'mutation {{ refreshToken(input: {{refreshToken: "{token}"}}) {{ accessToken }} }}',
        ):
            body = (await http.post("/graphql", json={"query": query}, headers=headers)).json()
            assert "errors" in body, query
        forged = await http.post(
            "/graphql",
            json={"query": "{ viewer { isRoot } }"},
            headers={"Authorization": f"Bearer {token[:-2]}xx"},
        )
        assert unauthenticated(forged.json()) == "ACCESS_TOKEN_INVALID"


def test_every_command_names_a_missing_project(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    for args in (["get", "ci"], ["rotate", "ci"], ["list"]):
        result = cli("root-token", *args, "--project", str(missing))
        assert result.exit_code != 0
        assert f"{missing}: no such project folder" in result.output
        assert "Traceback" not in result.output


async def test_a_root_token_passes_every_rule_of_types_and_fields(tmp_path: Path) -> None:
    nobody = {"id": "000000000000000000000000"}  # a filter no node matches
    project = write_project(
        tmp_path / "rules",
        "type Film { title: String! budget: Int notes: String }\n",
        permissions={
            "Film": {
                **{op: nobody for op in ("read", "create", "update", "delete")},
                "fields": {
                    "budget": {"read": "root", "write": "root"},
                    "notes": {"read": nobody, "write": nobody},
                },
            }
        },
        root_tokens=["ci"],
    )
    assert (await acli("deploy", str(project))).exit_code == 0
    token = (await acli("root-token", "get", "ci", "--project", str(project))).stdout.strip()
    root = {"Authorization": f"Bearer {token}"}
    async with served(project) as http:

        async def gql(query: str, headers: dict[str, str]) -> dict[str, object]:
            body: dict[str, object] = (
                await http.post("/graphql", json={"query": query}, headers=headers)
            ).json()
            return body

        made = await gql(
            'mutation { a: createFilm(data: {title: "A", budget: 2, notes: "n"}) { id } '
            'b: createFilm(data: {title: "B", budget: 1}) { id } }',
            root,
        )
        assert "errors" not in made, made
        listed = await gql(
            "{ films(where: {budget_gt: 0}, orderBy: [budget_ASC]) { title budget notes } "
            "filmsCount }",
            root,
        )
        assert listed == {
            "data": {
                "films": [
                    {"title": "B", "budget": 1, "notes": None},
                    {"title": "A", "budget": 2, "notes": "n"},
                ],
                "filmsCount": 2,
            }
        }
        film = made["data"]["a"]["id"]  # type: ignore[index]
        changed = await gql(
            f'mutation {{ updateFilm(id: "{film}", data: {{budget: 3, notes: "m"}}) '
            f'{{ budget notes }} deleteFilm(id: "{film}") {{ title }} }}',
            root,
        )
        assert changed == {
            "data": {"updateFilm": {"budget": 3, "notes": "m"}, "deleteFilm": {"title": "A"}}
        }
        # The same rules hold everyone else out.
        assert await gql("{ films { title } }", {}) == {"data": {"films": []}}
        refused = await gql('mutation { createFilm(data: {title: "C"}) { id } }', {})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
