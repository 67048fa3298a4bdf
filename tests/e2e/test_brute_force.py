"""A brute-force attack on one account against a real ``bastion serve``.

1,000 wrong passwords sent as single requests, as aliased documents and as batches: the single
requests are slowed (a growing delay, then the per-IP limit), the aliases and batches are
refused whole without a password being checked, a patient attacker who waits out every delay
locks the account after ten failures, and the real user logs in once the lock has ended. The
server's clock is moved with libfaketime; nothing sleeps.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import write_project
from tests.e2e.conftest import FakeClock, Serve, Server

SCHEMA = "type Note {\n  text: String!\n}\n"
PASSWORD = "correct horse battery"
USER_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.66"
LOGIN = """mutation ($e: String!, $p: String!) {
  loginEmailPassword(input: {email: $e, password: $p}) { accessToken }
}"""
REGISTER = """mutation ($e: String!, $p: String!) {
  registerUserEmailPassword(input: {email: $e, password: $p}) { accessToken }
}"""


def post(server: Server, body: Any, ip: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/graphql", json=body, headers={"X-Forwarded-For": ip}, timeout=30
    )


def code_of(response: httpx.Response) -> str:
    body = response.json()
    if "errors" not in body:
        return "OK"
    code: str = body["errors"][0]["extensions"]["code"]
    return code


def login(server: Server, password: str, ip: str) -> httpx.Response:
    variables = {"e": "ada@example.com", "p": password}
    return post(server, {"query": LOGIN, "variables": variables}, ip)


def test_one_account_under_attack(serve: Serve, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "app",
        SCHEMA,
        auth={"providers": {"local-userpass": {"signup": True}}},
        http={"trusted_proxies": ["127.0.0.1"]},
    )
    # Frozen: a delay ends only when the test moves the clock, however slow the machine is.
    clock = FakeClock(tmp_path / "faketime", frozen=True)
    server = serve(str(project), env=clock.env())
    registered = post(
        server, {"query": REGISTER, "variables": {"e": "ada@example.com", "p": PASSWORD}}, USER_IP
    )
    assert code_of(registered) == "OK", registered.text

    # 1,000 single requests as fast as they go: from the fifth failure the account's delay,
    # and then the IP's limit, answer all of them without a password check.
    singles = Counter(code_of(login(server, f"guess-{i}", ATTACKER_IP)) for i in range(1000))
    assert singles == {"INVALID_CREDENTIALS": 5, "RATE_LIMITED": 995}, singles
    limited = login(server, "guess", ATTACKER_IP).json()["errors"][0]
    assert limited["extensions"]["retryAfter"] > 0

    # 1,000 more as ten documents of 100 aliases, and as twenty batches of 50 operations:
    # each refused whole before any resolver runs.
    for start in range(0, 1000, 100):
        aliases = " ".join(
            f'a{i}: loginEmailPassword(input: {{email: "ada@example.com", '
            f'password: "alias-{i}"}}) {{ accessToken }}'
            for i in range(start, start + 100)
        )
        response = post(server, {"query": f"mutation {{ {aliases} }}"}, f"192.0.2.{start // 100}")
        # Past the alias limit (30): refused before the one-credential rule is asked.
        assert code_of(response) == "QUERY_TOO_COMPLEX", response.text
    for start in range(0, 1000, 50):
        batch = [
            {"query": LOGIN, "variables": {"e": "ada@example.com", "p": f"batch-{i}"}}
            for i in range(start, start + 50)
        ]
        response = post(server, batch, "192.0.2.200")
        assert response.status_code == 400, response.text
        assert code_of(response) == "BAD_REQUEST"

    # A patient attacker waits out every delay (the clock jumps instead): the tenth failure
    # locks the account.
    failures = singles["INVALID_CREDENTIALS"]
    tries = 0
    while failures < 10:
        tries += 1
        assert tries < 100
        response = login(server, f"patient-{tries}", ATTACKER_IP)
        if code_of(response) == "RATE_LIMITED":
            clock.advance(response.json()["errors"][0]["extensions"]["retryAfter"])
            continue
        assert code_of(response) == "INVALID_CREDENTIALS"
        failures += 1

    # Locked: the real user's right password gets the same answer as a wrong one...
    assert code_of(login(server, PASSWORD, USER_IP)) == "INVALID_CREDENTIALS"
    clock.advance(30)
    assert code_of(login(server, PASSWORD, USER_IP)) == "INVALID_CREDENTIALS"
    # ...until the minute is over.
    clock.advance(31)
    response = login(server, PASSWORD, USER_IP)
    assert code_of(response) == "OK", response.text
    token = response.json()["data"]["loginEmailPassword"]["accessToken"]
    me = server.data("{ viewer { user { email } } }", token=token)
    assert me == {"viewer": {"user": {"email": "ada@example.com"}}}
    # None of the guesses, nor the password, is in the server's log: all of it, once stopped.
    log = server.stop()
    assert "guess-" not in log and "alias-" not in log and PASSWORD not in log
