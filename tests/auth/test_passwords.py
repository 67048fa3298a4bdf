"""Password rules, argon2id parameters, rehash on login, and a hash on every failed login."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from bastion.auth import SYSTEM
from bastion.auth.passwords import Passwords, common_passwords, context_words, hashing_threads
from bastion.auth.settings import PasswordHashConfig
from bastion.project import load_project
from bastion.store.auth.tables import PASSWORD_TABLE
from tests.auth.conftest import LOGIN, PASSWORD, REGISTER, SIGNUP, Auth, error_code
from tests.conftest import write_project


class Counter:
    """Counts the argon2 hashes and verifications made while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashed: list[int] = []  # sizes in bytes of what was hashed
        self.verified = 0
        hash_, verify = PasswordHasher.hash, PasswordHasher.verify

        def counting_hash(hasher: PasswordHasher, password: str | bytes, **kw: Any) -> str:
            self.hashed.append(len(password.encode() if isinstance(password, str) else password))
            return hash_(hasher, password, **kw)

        def counting_verify(hasher: PasswordHasher, stored: Any, password: Any) -> bool:
            self.verified += 1
            return verify(hasher, stored, password)

        # PasswordHasher has __slots__: patch the class for the length of the test.
        monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
        monkeypatch.setattr(PasswordHasher, "verify", counting_verify)


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Argon2 calls, counted."""
    return Counter(monkeypatch)


async def _stored_hash(auth: Auth) -> str:
    table = auth.service.store.tables.metadata.tables[PASSWORD_TABLE]
    async with auth.service.store.db.read() as conn:
        stored: str = (await conn.execute(select(table.c.hash))).scalar_one()
    return stored


async def _register(auth: Auth, password: str, email: str = "ann@example.com") -> dict[str, Any]:
    # Sent as ASCII-escaped JSON, so that even lone surrogates make it to the server.
    body = json.dumps({"query": REGISTER, "variables": {"email": email, "password": password}})
    response = await auth.client.http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_too_short_is_refused(auth: Auth, counter: Counter) -> None:
    body = await _register(auth, "1234567")
    assert error_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["message"] == "The password must be at least 8 characters"
    assert counter.hashed == []
    assert await auth.gql("{ usersCount }") == {"data": {"usersCount": 0}}
    assert "errors" not in await _register(auth, "k7#qpw2m")  # 8 characters, not a common one


async def test_too_long_is_refused_before_hashing(auth: Auth, counter: Counter) -> None:
    for password in ("x" * 1025, "€" * 342):  # 342 characters, but 1026 bytes
        body = await _register(auth, password)
        assert error_code(body) == "BAD_USER_INPUT"
        assert body["errors"][0]["message"] == "The password must be at most 1024 bytes"
    assert counter.hashed == []
    assert "errors" not in await _register(auth, "x" * 1024)
    assert counter.hashed == [1024]


async def test_a_too_long_password_at_login_is_never_hashed(auth: Auth, counter: Counter) -> None:
    await auth.register("ann@example.com")
    counter.hashed.clear()
    counter.verified = 0
    body = await auth.login("ann@example.com", "x" * 100_000)
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert counter.verified == 1  # the dummy, so that timing tells nothing
    assert counter.hashed == []


UNICODE_PASSWORDS = [
    "пароль-секрет",
    "密码密码密码密码",
    "🔑🔑🔑🔑🔑🔑🔑🔑",  # 8 characters, 32 bytes
    "  spaces  ",
    "e\u0301e\u0301e\u0301e\u0301",  # 8 code points, 4 letters once normalised
]


async def test_any_unicode(auth: Auth, subtests: pytest.Subtests) -> None:
    for number, password in enumerate(UNICODE_PASSWORDS):
        with subtests.test(password=password):
            email = f"user{number}@example.com"
            assert "errors" not in await _register(auth, password, email=email)
            assert "errors" not in await auth.login(email, password)
            # Never trimmed, never normalised: another spelling is another password.
            others = {password.strip(), unicodedata.normalize("NFC", password)} - {password}
            for other in others:
                assert error_code(await auth.login(email, other)) == "INVALID_CREDENTIALS"


async def test_lone_surrogates_are_bad_input_not_a_crash(auth: Auth) -> None:
    await auth.register("ann@example.com")
    cases = [
        (REGISTER, {"email": "bob@example.com", "password": "\ud800" * 8}),
        (REGISTER, {"email": "\udc80@example.com", "password": PASSWORD}),
        (LOGIN, {"email": "ann@example.com", "password": "\ud800" * 8}),
        (LOGIN, {"email": "\ud800@example.com", "password": PASSWORD}),
    ]
    # Over HTTP they are refused at the edge, before any resolver or hash runs.
    for query, variables in cases:
        body = json.dumps({"query": query, "variables": variables})
        response = await auth.client.http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert error_code(response.json()) == "BAD_REQUEST"
    # In-process callers (functions, the CLI) reach the accounts, which refuse them too.
    executor = auth.client.app.state.service.executor
    expected = ["BAD_USER_INPUT", "BAD_USER_INPUT", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS"]
    for (query, variables), code in zip(cases, expected, strict=True):
        assert error_code((await executor.run(query, variables)).body) == code
    users = await executor.run("{ usersCount }", viewer=SYSTEM)
    assert users.body["data"] == {"usersCount": 1}


async def test_minimum_length_from_bastion_yml(auth_for: Callable[..., Any]) -> None:
    auth = await auth_for(providers={"local-userpass": {"min_password_length": 15}})
    body = await _register(auth, "fourteen chars")
    assert body["errors"][0]["message"] == "The password must be at least 15 characters"
    assert "errors" not in await _register(auth, "fifteen chars!!")


async def test_hash_is_argon2id_with_the_owasp_minimum(auth: Auth) -> None:
    await auth.register("ann@example.com")
    stored = await _stored_hash(auth)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


async def test_rehash_on_login_when_the_parameters_change(
    tmp_path: Path, client_for: Callable[..., Any]
) -> None:
    folder = tmp_path / "project"
    write_project(folder, auth=SIGNUP)
    before = Auth(await client_for(load_project(folder)))
    await before.register("ann@example.com")
    old = await _stored_hash(before)
    assert "errors" not in await before.login("ann@example.com")
    assert await _stored_hash(before) == old  # same parameters: kept
    assert ",t=2," in old

    write_project(folder, auth={**SIGNUP, "password_hash": {"time_cost": 3}})
    after = Auth(await client_for(load_project(folder)))  # the server restarts
    assert await _stored_hash(after) == old  # nothing happens until the user logs in
    assert "errors" not in await after.login("ann@example.com")
    new = await _stored_hash(after)
    assert new != old
    assert new.startswith("$argon2id$v=19$m=19456,t=3,p=1$")
    assert "errors" not in await after.login("ann@example.com")  # the new hash verifies
    assert await _stored_hash(after) == new  # and is not remade again
    assert error_code(await after.login("ann@example.com", "wrong password")) == (
        "INVALID_CREDENTIALS"
    )


async def test_unknown_email_still_runs_a_hash(auth: Auth, counter: Counter) -> None:
    await auth.register("ann@example.com")
    await auth.register("bob@example.com")
    async with auth.service.store.db.write() as conn:
        await auth.service.auth.accounts.set_active(conn, "bob@example.com", False)
    for email, password in [
        ("nobody@example.com", PASSWORD),
        ("ann@example.com", "wrong password"),
        ("bob@example.com", PASSWORD),
        ("ann@example.com", PASSWORD),
    ]:
        counter.verified = 0
        await auth.login(email, password)
        assert counter.verified == 1, email


async def test_passwords_never_reach_the_logs(auth: Auth, caplog: pytest.LogCaptureFixture) -> None:
    secret = "a password nobody should ever see"
    with caplog.at_level(logging.DEBUG):
        pair = await auth.register("ann@example.com", secret)
        await auth.login("ann@example.com", secret)
        await auth.login("ann@example.com", secret + "?")
        await auth.refresh(pair["refreshToken"])
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /graphql 200" in text  # the log was written, and read here
    assert secret not in text
    assert pair["refreshToken"] not in text
    assert pair["accessToken"] not in text


# -- guessable passwords (NIST SP 800-63B 3.1.1.2, ASVS 6.2.4) -----------------------------


def test_the_shipped_list_holds_the_common_passwords_that_pass_the_length_rule() -> None:
    common = common_passwords()
    assert {"password", "12345678", "qwertyuiop", "iloveyou1"} <= common
    assert "123456" not in common  # shorter than any minimum: refused by length already
    assert all(len(entry) >= 8 for entry in common)
    assert common_passwords() is common  # read once


@pytest.mark.parametrize(
    "password",
    [
        "password1",
        "PassWord1",
        "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44\uff11",
        "qwertyuiop",
    ],
)
async def test_a_common_password_is_refused_without_echoing_it(
    auth: Auth, counter: Counter, password: str
) -> None:
    body = await _register(auth, password)
    assert error_code(body) == "WEAK_PASSWORD"
    (error,) = body["errors"]
    assert error["message"] == "This password is one of the most common passwords: choose another"
    assert error["extensions"]["field"] == "password"
    assert password.lower() not in json.dumps(body).lower()
    assert counter.hashed == []  # refused before any hashing
    assert await auth.gql("{ usersCount }") == {"data": {"usersCount": 0}}


@pytest.mark.parametrize(
    "password",
    [
        "ann@example.com",  # the email itself
        "ann@example.com1!",
        "Example2024!",  # the email's domain with a little around it
        "test-app123",  # the app id
        "TestTest2024",  # the app's name (twice)
        "example.compassword",  # what is left is a common password
    ],
)
async def test_a_password_built_on_the_email_or_the_app_is_refused(
    auth: Auth, password: str
) -> None:
    body = await _register(auth, password)
    assert error_code(body) == "WEAK_PASSWORD"
    assert body["errors"][0]["message"] == (
        "This password is built on the app's name or your email: choose another"
    )
    assert password.lower() not in json.dumps(body).lower()


async def test_a_long_passphrase_may_hold_a_name(auth: Auth) -> None:
    assert "errors" not in await _register(auth, "ann likes a quiet test of patience")


async def test_a_new_password_is_checked_against_the_users_email(auth: Auth) -> None:
    pair = await auth.register("zoe.quinn@example.com")
    change = """mutation ($old: String!, $new: String!) {
      changePassword(input: {oldPassword: $old, newPassword: $new}) }"""
    for new in ("zoe.quinn2024", "letmein123"):
        body = await auth.gql(change, {"old": PASSWORD, "new": new}, token=pair["accessToken"])
        assert error_code(body) == "WEAK_PASSWORD"
    assert (await auth.login_pair("zoe.quinn@example.com"))["accessToken"]  # unchanged


def test_context_words_are_the_texts_and_the_parts_of_an_email() -> None:
    assert context_words("My App", "my-app-x1", "Ann.Lee@Example.COM", None, "") == [
        "ann.lee@example.com",
        "annleeexamplecom",
        "example.com",
        "my-app-x1",
        "ann.lee",
        "example",
        "myappx1",
        "my app",
        "myapp",
    ]


async def test_hashes_have_threads_of_their_own_one_per_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # asyncio's default threads also commit SQLite's writes: a burst of logins must neither
    # wait for them nor fill them. Here they are all taken, and hashing still goes on.
    loop = asyncio.get_running_loop()
    gate = threading.Event()
    taken = ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(taken)
    blocked = loop.run_in_executor(None, gate.wait)
    running: list[str] = []
    most = 0
    lock = threading.Lock()
    verify = PasswordHasher.verify

    def watched_verify(hasher: PasswordHasher, stored: Any, password: Any) -> bool:
        nonlocal most
        with lock:
            running.append(threading.current_thread().name)
            most = max(most, len(running))
        try:
            return verify(hasher, stored, password)
        finally:
            with lock:
                running.pop()

    try:
        passwords = Passwords(PasswordHashConfig())
        stored = await asyncio.wait_for(passwords.hash(PASSWORD), 30)
        monkeypatch.setattr(PasswordHasher, "verify", watched_verify)
        many = 3 * hashing_threads()
        answers = await asyncio.wait_for(
            asyncio.gather(*(passwords.verify(stored, PASSWORD) for _ in range(many))), 60
        )
    finally:
        gate.set()
        await blocked
        taken.shutdown()
    assert answers == [True] * many
    assert 1 <= most <= hashing_threads()


async def test_each_hash_and_verification_is_timed_on_its_thread() -> None:
    """Observers hear one duration per argon2id call, from the hashing thread: a new hash, a
    right and a wrong password, an unknown account's dummy, a password too long to hash."""
    passwords = Passwords(PasswordHashConfig())
    heard: list[tuple[float, str]] = []
    passwords.observers.append(
        lambda seconds: heard.append((seconds, threading.current_thread().name))
    )
    stored = await passwords.hash(PASSWORD)
    assert await passwords.verify(stored, PASSWORD)
    assert not await passwords.verify(stored, "not the password")
    assert not await passwords.verify(None, PASSWORD)
    assert not await passwords.verify(stored, "x" * 2000)
    assert len(heard) == 5
    assert all(seconds > 0 for seconds, _ in heard)
    assert {thread for _, thread in heard} <= {
        t.name for t in threading.enumerate() if t.name.startswith("argon2id")
    }
