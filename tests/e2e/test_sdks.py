"""The real MongoDB client SDKs against a real ``bastion serve``.

npm installs ``realm-web@2.0.1`` and ``mongodb-stitch-server-sdk@4.9.0`` (pinned by
``sdk/package-lock.json``) into a temporary folder, and a node script per SDK logs in with
every provider, reads the profile, calls GraphQL with the SDK's access token, refreshes after
the access token expired (twice, with the same refresh token), makes an API key, logs out, and
sees the old refresh token refused.

The server's clock is moved from outside, with libfaketime (``LD_PRELOAD``) reading an offset
from a file the test writes; the server has no test hook, and nothing sleeps.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml

from tests.e2e.test_serve import Server, free_port

SDK_DIR = Path(__file__).parent / "sdk"
APP = "sdk-app"
JWT_SECRET = "sdk-secret-" + "x" * 32
PASSWORD = "correct horse battery"
SCRIPT_TIMEOUT = 90


def _faketime_library() -> str:
    spec = importlib.util.find_spec("libfaketime")
    assert spec is not None and spec.origin is not None, "pip install libfaketime (a dev extra)"
    found = sorted(Path(spec.origin).parent.rglob("libfaketime.so.1"))
    assert found, "libfaketime was installed without its library"
    return str(found[0])


@pytest.fixture(scope="module")
def sdk_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the node scripts and the SDKs installed by npm from the lock file."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "node and npm are needed to run the SDK tests"
    folder = tmp_path_factory.mktemp("sdk")
    for path in SDK_DIR.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return folder


class Clock:
    """The server's clock, moved forward through libfaketime's offset file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.path.write_text("+0\n")

    def advance(self, seconds: int) -> None:
        self.offset += seconds
        self.path.write_text(f"+{self.offset}\n")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, Clock]]:
    """``bastion serve`` of a project with every provider on and 60 s access tokens."""
    project = tmp_path / "project"
    project.mkdir()
    config = {
        "name": "sdk",
        "app_id": APP,
        "auth": {
            "access_token_lifetime": 60,
            "providers": {
                "local-userpass": {"signup": True},
                "anon-user": {"enabled": True},
                "api-key": {"enabled": True},
                "custom-token": {
                    "enabled": True,
                    "audience": APP,
                    "secret_env": "SDK_JWT_SECRET",
                    "metadata_fields": {"firstName": "first_name"},
                },
            },
        },
        "permissions": {
            "Note": {"read": "everyone", "create": "authenticated"},
            "User": {"read": {"id": "$viewer.id"}},
        },
    }
    (project / "bastion.yml").write_text(yaml.safe_dump(config))
    (project / "schema.graphql").write_text("type Note { text: String! }\n")
    clock = Clock(tmp_path / "faketime")
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SDK_JWT_SECRET": JWT_SECRET,
        "LD_PRELOAD": _faketime_library(),
        "FAKETIME_TIMESTAMP_FILE": str(clock.path),
        "FAKETIME_NO_CACHE": "1",
        # The event loop keeps real monotonic time: only the wall clock (token time) moves.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    command = [sys.executable, "-m", "bastion", "serve", str(project)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    running = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        running.wait_until_ready()
        yield running, clock
    finally:
        running.stop()


def _custom_token(sub: str) -> str:
    import time

    now = int(time.time())
    # Valid across the clock jumps of the test (the server's time moves hours ahead).
    claims = {
        "sub": sub,
        "aud": APP,
        "iat": now,
        "exp": now + 86_400,
        "first_name": "Jo",
        "user_data": {"plan": "pro"},
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def drive(script: Path, args: list[str], server: Server, clock: Clock) -> dict[str, Any]:
    """Run a node script; move the clock at each ``expire`` step; the steps by name."""
    process = subprocess.Popen(
        ["node", script.name, *args],
        cwd=script.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    steps: dict[str, Any] = {}
    expired = 0
    try:
        for line in process.stdout:
            step = json.loads(line)
            if step["step"] == "expire":
                expired += 1
                clock.advance(7200)  # far past the 60 s lifetime and the 30 s leeway
                process.stdin.write("\n")
                process.stdin.flush()
                continue
            steps[step["step"]] = step
        process.wait(timeout=SCRIPT_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert "error" not in steps and process.returncode == 0, (
        f"{steps.get('error')}\n{process.stderr.read() if process.stderr else ''}\n{server.log()}"
    )
    steps["expired"] = expired
    return steps


def _assert_graphql_sees(result: dict[str, Any], user_id: str, email: str) -> None:
    assert result["status"] == 200, result
    assert result["body"] == {"data": {"viewer": {"user": {"id": user_id, "email": email}}}}


def _assert_refresh_cycle(steps: dict[str, Any], user_id: str, email: str) -> None:
    # The expired token is refused with what makes the SDKs refresh...
    stale = steps["stale"]["result"]
    assert stale["status"] == 401 and stale["body"]["error_code"] == "InvalidSession"
    # ...the refresh gives a working token, and so does a second one with the same refresh token.
    assert steps["refreshed"]["changed"] is True
    _assert_graphql_sees(steps["refreshed"]["result"], user_id, email)
    again = steps["refreshed-again"]
    assert again["sameRefreshToken"] is True and again["changed"] is True
    _assert_graphql_sees(again["result"], user_id, email)


def _assert_refused_after_logout(after: dict[str, Any]) -> None:
    assert after["status"] == 401
    assert after["contentType"] == "application/json"
    assert after["body"]["error_code"] == "InvalidSession"


def test_realm_web(sdk_modules: Path, server: tuple[Server, Clock]) -> None:
    running, clock = server
    email = "realm@example.com"
    steps = drive(
        sdk_modules / "realm_web.js",
        [running.url, APP, email, PASSWORD, _custom_token("idp|realm")],
        running,
        clock,
    )
    assert steps["anon"]["provider"] == "anon-user"
    assert len(steps["anon"]["deviceId"]) == 24
    user_id = steps["userpass"]["id"]
    assert steps["userpass"]["email"] == email
    assert steps["userpass"]["identities"] == ["local-userpass"]
    _assert_graphql_sees(steps["graphql"]["result"], user_id, email)
    assert steps["custom"]["customData"] == {"plan": "pro"}
    assert steps["custom"]["firstName"] == "Jo"
    assert steps["custom"]["id"] not in (user_id, steps["anon"]["id"])
    created = steps["apikey-created"]
    assert created["name"] == "sdk-key" and created["disabled"] is False
    assert created["secret"] == "string"
    assert steps["apikey-login"]["id"] == user_id
    assert steps["apikey-login"]["keys"] == ["sdk-key"]
    _assert_refresh_cycle(steps, user_id, email)
    assert steps["auto-refresh"]["email"] == email
    assert steps["expired"] == 2
    assert steps["logout"]["state"] == "logged-out"
    _assert_refused_after_logout(steps["logout"]["after"])


def test_stitch_server_sdk(sdk_modules: Path, server: tuple[Server, Clock], tmp_path: Path) -> None:
    running, clock = server
    email = "stitch@example.com"
    data = tmp_path / "stitch-data"
    data.mkdir()
    steps = drive(
        sdk_modules / "stitch_server.js",
        [running.url, APP, email, PASSWORD, _custom_token("idp|stitch"), str(data)],
        running,
        clock,
    )
    assert steps["anon"]["provider"] == "anon-user"
    user_id = steps["userpass"]["id"]
    assert steps["userpass"]["email"] == email
    assert steps["userpass"]["identities"] == ["local-userpass"]
    _assert_graphql_sees(steps["graphql"]["result"], user_id, email)
    created = steps["apikey-created"]
    assert created["name"] == "sdk-key" and len(created["id"]) == 24
    _assert_refresh_cycle(steps, user_id, email)
    assert steps["logout"]["loggedIn"] is False
    _assert_refused_after_logout(steps["logout"]["after"])
    assert steps["apikey-login"]["id"] == user_id
    assert steps["custom"]["customData"] == {"plan": "pro"}
    assert steps["custom"]["firstName"] == "Jo"
