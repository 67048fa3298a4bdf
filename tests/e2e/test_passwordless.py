"""The passwordless example (examples/passwordless): login codes written as two functions.

End to end against a real ``bastion serve --example passwordless`` process; the code's expiry
is tested in-process, where the clock is injected.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bastion import load_project
from bastion.tools.clock import FrozenClock
from tests.conftest import GraphQLClient
from tests.e2e.conftest import Serve, Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "passwordless"
REQUEST = "mutation ($e: String!) { requestLoginCode(email: $e) }"
LOGIN = """mutation ($e: String!, $c: String!) {
  loginWithCode(email: $e, code: $c) { accessToken accessTokenLifetime userId }
}"""
ME = "{ viewer { user { id email } } }"


def last_code(outbox: Path, email: str) -> str:
    """The code most recently "sent" to ``email``."""
    lines = [line.split() for line in outbox.read_text(encoding="utf-8").splitlines()]
    return [code for to, code in lines if to == email][-1]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def refused(server: Server, email: str, code: str) -> None:
    body = server.post(LOGIN, {"e": email, "c": code})
    assert body["data"] is None
    assert body["errors"][0]["message"] == "Invalid email or code"
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_user_logs_in_with_an_emailed_code(serve: Serve, tmp_path: Path) -> None:
    server = serve("--example", "passwordless")
    outbox = tmp_path / "passwordless" / ".bastion" / "outbox.log"

    assert server.data(REQUEST, {"e": "Ada@Example.com"}) == {"requestLoginCode": True}
    code = last_code(outbox, "ada@example.com")
    assert len(code) == 6 and code.isdigit()
    refused(server, "ada@example.com", wrong(code))

    login = server.data(LOGIN, {"e": "ada@example.com", "c": code})["loginWithCode"]
    assert login["accessTokenLifetime"] == 3600
    me = server.data(ME, token=login["accessToken"])
    assert me["viewer"]["user"] == {"id": login["userId"], "email": "ada@example.com"}
    # The token is the user's for the permission rules: her notes are hers.
    server.data(
        'mutation ($u: ID!) { createNote(data: {text: "hi", owner: {connect: {id: $u}}}) { id } }',
        {"u": login["userId"]},
        token=login["accessToken"],
    )
    notes = server.data("{ notes { text } }", token=login["accessToken"])
    assert notes == {"notes": [{"text": "hi"}]}
    assert server.data("{ notes { text } }") == {"notes": []}

    # A code works once.
    refused(server, "ada@example.com", code)
    # A second login of the same email is the same user.
    server.data(REQUEST, {"e": "ada@example.com"})
    again = server.data(LOGIN, {"e": "ada@example.com", "c": last_code(outbox, "ada@example.com")})
    assert again["loginWithCode"]["userId"] == login["userId"]


def without_throttle(tmp_path: Path) -> Path:
    """A copy of the example with Bastion's own throttling off: only its counter guards it."""
    root = tmp_path / "unthrottled"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".bastion", "__pycache__"))
    config = yaml.safe_load((root / "bastion.yml").read_text(encoding="utf-8"))
    config["auth"]["throttle"] = {"enabled": False}
    (root / "bastion.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


def in_parallel(server: Server, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST every body at once, each on its own connection; the JSON answers."""

    async def run() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as http:
            responses = await asyncio.gather(*(http.post("/graphql", json=b) for b in bodies))
        return [r.json() for r in responses]

    return asyncio.run(run())


def test_wrong_codes_use_up_the_attempts_of_the_email(serve: Serve, tmp_path: Path) -> None:
    root = without_throttle(tmp_path)
    server = serve(str(root))
    outbox = root / ".bastion" / "outbox.log"
    server.data(REQUEST, {"e": "bob@example.com"})
    code = last_code(outbox, "bob@example.com")
    for _ in range(5):
        refused(server, "bob@example.com", wrong(code))
    # The sixth try is refused even with the right code: the count outlived each refusal.
    refused(server, "bob@example.com", code)
    # A new code gives no new attempts: they are the email's, not the code's.
    server.data(REQUEST, {"e": "bob@example.com"})
    refused(server, "bob@example.com", last_code(outbox, "bob@example.com"))


@pytest.mark.parametrize("throttled", [True, False], ids=["as-shipped", "example-counter-only"])
def test_forty_parallel_wrong_codes_then_the_right_one(
    serve: Serve, tmp_path: Path, throttled: bool
) -> None:
    if throttled:
        server, outbox = serve("--example", "passwordless"), tmp_path / "passwordless"
    else:
        outbox = without_throttle(tmp_path)
        server = serve(str(outbox))
    outbox = outbox / ".bastion" / "outbox.log"
    server.data(REQUEST, {"e": "eve@example.com"})
    code = last_code(outbox, "eve@example.com")
    guesses = [{"query": LOGIN, "variables": {"e": "eve@example.com", "c": wrong(code)}}] * 40
    answers = in_parallel(server, guesses)
    codes = {a["errors"][0]["extensions"]["code"] for a in answers}
    assert all(a["data"] is None for a in answers)
    assert codes <= {"BAD_USER_INPUT", "RATE_LIMITED", "INVALID_CREDENTIALS"}, codes
    body = server.post(LOGIN, {"e": "eve@example.com", "c": code})
    assert body["data"] is None, body
    # And a fresh code after the storm does not open the door either.
    server.data(REQUEST, {"e": "eve@example.com"})
    body = server.post(LOGIN, {"e": "eve@example.com", "c": last_code(outbox, "eve@example.com")})
    assert body["data"] is None, body


def test_unknown_emails_and_bad_input_reveal_nothing(serve: Serve) -> None:
    server = serve("--example", "passwordless")
    refused(server, "nobody@example.com", "123456")
    body = server.post(REQUEST, {"e": "not an email"})
    assert body["errors"][0]["message"] == "Enter a valid email address"
    # The codes themselves are root-only: others see none.
    server.data(REQUEST, {"e": "dee@example.com"})
    assert server.data("{ loginCodes { codeHash } loginCodesCount }") == {
        "loginCodes": [],
        "loginCodesCount": 0,
    }


async def test_a_code_expires_after_ten_minutes(
    tmp_path: Path, client_for: Callable[..., Any], clock: FrozenClock, monkeypatch: Any
) -> None:
    root = tmp_path / "passwordless"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".bastion", "__pycache__"))
    outbox = tmp_path / "outbox.log"
    monkeypatch.setenv("PASSWORDLESS_OUTBOX", str(outbox))
    client: GraphQLClient = await client_for(load_project(root))
    await client.data(REQUEST, {"e": "cy@example.com"})
    clock.advance(seconds=601)
    body = await client.gql(
        LOGIN, {"e": "cy@example.com", "c": last_code(outbox, "cy@example.com")}
    )
    assert body["errors"][0]["message"] == "Invalid email or code"
    await client.data(REQUEST, {"e": "cy@example.com"})
    clock.advance(seconds=599)
    await client.data(LOGIN, {"e": "cy@example.com", "c": last_code(outbox, "cy@example.com")})


async def test_used_attempts_come_back_an_hour_later(
    tmp_path: Path, client_for: Callable[..., Any], clock: FrozenClock, monkeypatch: Any
) -> None:
    root = tmp_path / "passwordless"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".bastion", "__pycache__"))
    outbox = tmp_path / "outbox.log"
    monkeypatch.setenv("PASSWORDLESS_OUTBOX", str(outbox))
    client: GraphQLClient = await client_for(load_project(root))
    await client.data(REQUEST, {"e": "di@example.com"})
    code = last_code(outbox, "di@example.com")
    for _ in range(5):
        clock.advance(seconds=60)  # past Bastion's own growing delays
        body = await client.gql(LOGIN, {"e": "di@example.com", "c": wrong(code)})
        assert body["errors"][0]["message"] == "Invalid email or code"
    clock.advance(seconds=60)
    body = await client.gql(LOGIN, {"e": "di@example.com", "c": code})
    assert body["errors"][0]["message"] == "Invalid email or code"
    clock.advance(seconds=3600)
    await client.data(REQUEST, {"e": "di@example.com"})
    await client.data(LOGIN, {"e": "di@example.com", "c": last_code(outbox, "di@example.com")})
