"""The real MongoDB client SDKs, driven from node against a real ``bastion serve``.

npm installs ``realm-web@2.0.1`` and ``mongodb-stitch-server-sdk@4.9.0`` from the committed
``sdk/package-lock.json`` into a temporary folder (once per session; about 2 s). A node script
per SDK (``sdk/realm_web.js``, ``sdk/stitch_server.js``) then does what an app does: the location
request, a login with every provider (anonymous, email/password after registering, an API key
made through the SDK, a custom JWT), the profile, GraphQL with the SDK's access token, callable
functions (mixed arguments in canonical Extended JSON, a refusal, an unknown name, and a call
with an expired token that the SDK refreshes and repeats by itself), two refreshes with the
same refresh token after the access token expired, logout, and the old refresh token refused.
Each script prints one JSON line per step; this module asserts on them.

Nothing sleeps. The server's wall clock is moved from outside: it runs under libfaketime
(``LD_PRELOAD``), which reads a ``+seconds`` offset from a file on every time call; when a
script prints ``{"step": "expire"}`` the test moves the offset two hours on and writes a line to
the script's stdin. Monotonic time stays real, so uvicorn's event loop is undisturbed. The
server has no test hook for this.

node and npm are required: without them the tests fail (they are not skipped).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml

from tests.e2e.conftest import FakeClock, Server, free_port

SDK_SOURCES = Path(__file__).parent / "sdk"
APP_ID = "sdk-app"
PASSWORD = "correct horse battery"
JWT_SECRET = "sdk-e2e-secret-" + "0123456789abcdef" * 2
NPM_TIMEOUT = 300
SCRIPT_TIMEOUT = 90  # the scripts stop themselves after 60 s; this is the backstop
JUMP = 7200  # seconds: far past the 60 s access-token lifetime and the 30 s leeway
HEX_ID = re.compile(r"^[0-9a-f]{24}$")
NULL_ID = "0" * 24
FUNCTIONS_CALL = f"/api/client/v2.0/app/{APP_ID}/functions/call"


def test_faketime_moves_the_wall_clock_of_a_python_process(tmp_path: Path) -> None:
    """What the SDK tests rely on: ``datetime.now(UTC)`` jumps, ``time.monotonic()`` does not."""
    clock = FakeClock(tmp_path / "faketime")
    clock.advance(JUMP)
    probe = (
        "import datetime, json, time; print(json.dumps("
        "[datetime.datetime.now(datetime.UTC).timestamp(), time.time(), time.monotonic()]))"
    )
    before = time.time()
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **clock.env()},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    now, wall, monotonic = json.loads(result.stdout)
    assert before + JUMP - 1 < now < time.time() + JUMP + 1, result
    assert abs(wall - now) < 1
    assert abs(monotonic - time.monotonic()) < 30


# -- npm and node --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sdk_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the node scripts and ``node_modules`` installed by ``npm ci``."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail(
            "node and npm are needed for the SDK end-to-end tests (node 18 or later); "
            "install them, the tests do not skip without them",
            pytrace=False,
        )
    folder = tmp_path_factory.mktemp("sdk")
    for source in SDK_SOURCES.iterdir():
        if source.suffix in (".js", ".json"):
            shutil.copy(source, folder / source.name)
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return folder


# -- the server ----------------------------------------------------------------------------


MATHS = """
import builtins

from bastion.functions.runtime import FunctionError


def sum(event):
    return builtins.sum(event.arguments)


def describe(event):
    return {
        "types": [type(a).__name__ for a in event.arguments],
        "echo": event.arguments,
        "caller": event.context.viewer.user_id,
    }


def refuse(event):
    raise FunctionError("no, thanks")
"""


def write_sdk_project(root: Path, port: int) -> Path:
    """The project both SDKs use: every provider on, 60 s access tokens, a Note type, and
    callable functions (``maths.py``)."""
    root.mkdir(parents=True)
    config = {
        "name": "sdk",
        "app_id": APP_ID,
        "schema": "schema.graphql",
        "server": {"host": "127.0.0.1", "port": port},
        "auth": {
            "access_token_lifetime": 60,
            "providers": {
                "local-userpass": {"enabled": True, "signup": True},
                "anon-user": {"enabled": True},
                "api-key": {"enabled": True},
                "custom-token": {
                    "enabled": True,
                    "audience": APP_ID,
                    "secret_env": "SDK_JWT_SECRET",
                    "metadata_fields": {"firstName": "first_name"},
                },
            },
        },
        "permissions": {
            "Note": {"read": "everyone", "create": "authenticated"},
            "User": {"read": {"id": "$viewer.id"}},
        },
        "functions": {
            name: {"handler": f"maths:{name}", "callable": True}
            for name in ("sum", "describe", "refuse")
        },
    }
    (root / "bastion.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "schema.graphql").write_text("type Note { text: String! }\n", encoding="utf-8")
    (root / "maths.py").write_text(MATHS, encoding="utf-8")
    return root


@dataclass
class Served:
    """A running ``bastion serve`` and the clock it reads."""

    server: Server
    clock: FakeClock
    folder: Path

    def access_log(self) -> list[str]:
        """``METHOD /path STATUS`` per request, in order (the durations dropped)."""
        lines = re.findall(r"bastion\.access: (\S+ \S+ \d+)", self.server.log())
        return [str(line) for line in lines]

    def logged(self, condition: Callable[[list[str]], bool]) -> bool:
        """Whether the access log comes to hold ``condition``: the event loop writes its lines
        in batches, a tenth of a second apart, so the last request's line may not be there yet."""
        return self.server.wait_for(lambda: condition(self.access_log()))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``bastion serve`` of the SDK project, under libfaketime; stopped at teardown."""
    port = free_port()
    project = write_sdk_project(tmp_path / "project", port)
    clock = FakeClock(tmp_path / "faketime")
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SDK_JWT_SECRET": JWT_SECRET, **clock.env()}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bastion", "serve", str(project)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        server.wait_until_ready()
        yield Served(server, clock, tmp_path)
    finally:
        server.stop()


# -- driving a script ----------------------------------------------------------------------


def custom_token(subject: str) -> str:
    """A JWT from the app's own identity provider, signed with the project's secret."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "aud": APP_ID,
        "iat": now,
        "exp": now + 86_400,  # still valid after the server's clock jumps
        "first_name": "Jo",
        "user_data": {"plan": "pro"},
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def drive(script: Path, served: Served, **arguments: str) -> dict[str, Any]:
    """Run a node script to its end, moving the clock at each ``expire``; the steps by name
    (``expired`` counts the jumps). Fails with the script's and the server's output."""
    stderr_path = served.folder / f"{script.stem}.stderr"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            ["node", script.name, json.dumps({"base": served.server.url, **arguments})],
            cwd=script.parent,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    assert process.stdin is not None and process.stdout is not None
    backstop = threading.Timer(SCRIPT_TIMEOUT, process.kill)
    backstop.start()
    steps: dict[str, Any] = {"expired": 0}
    other: list[str] = []
    try:
        for line in process.stdout:
            try:
                step = json.loads(line)
            except json.JSONDecodeError:
                other.append(line)  # anything the SDKs print themselves
                continue
            if step["step"] == "expire":
                steps["expired"] += 1
                served.clock.advance(JUMP)
                process.stdin.write("\n")
                process.stdin.flush()
            else:
                steps[step["step"]] = step
        process.wait()
    finally:
        backstop.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or "done" not in steps:
        pytest.fail(
            f"{script.name} exited with {process.returncode}\n"
            f"error: {json.dumps(steps.get('error'), indent=2)}\n"
            f"last step: {list(steps)[-1]}\n"
            f"other output: {''.join(other)}\n"
            f"stderr: {stderr_path.read_text()}\n"
            f"server log:\n{served.server.log()}"
        )
    return steps


# -- what the steps must show --------------------------------------------------------------


def assert_sees(result: dict[str, Any], user_id: str, email: str | None) -> None:
    """A GraphQL answer naming the SDK's user as the viewer."""
    assert result["status"] == 200, result
    assert result["body"] == {"data": {"viewer": {"user": {"id": user_id, "email": email}}}}


def assert_invalid_session(result: dict[str, Any]) -> None:
    """The 401 that makes both SDKs refresh, in the exact shape Stitch parses."""
    assert result["status"] == 401, result
    assert result["contentType"] == "application/json"  # no charset: Stitch compares with ===
    assert result["body"]["error_code"] == "InvalidSession"


def assert_device_id(value: str) -> None:
    assert HEX_ID.match(value) and value != NULL_ID, value


def assert_refreshes(steps: dict[str, Any], user_id: str, email: str) -> None:
    """The expired token is refused; two refreshes with the login's refresh token work."""
    refresh = steps["refresh"]
    assert_invalid_session(refresh["stale"]["graphql"])
    assert_invalid_session(refresh["stale"]["profile"])
    assert refresh["firstChanged"] is True
    assert_sees(refresh["firstMe"], user_id, email)
    assert refresh["secondChanged"] is True
    assert refresh["sameRefreshToken"] is True
    assert_sees(refresh["secondMe"], user_id, email)


MIXED_TYPES = ["int", "float", "str", "dict", "ObjectId", "datetime", "Int64", "Decimal128"]


def assert_functions(steps: dict[str, Any], served: Served, user_id: str) -> None:
    """Mixed arguments decoded as BSON values and back; refusals in the SDK's error codes; a
    call with an expired token refreshed and repeated by the SDK itself."""
    functions = steps["functions"]
    assert functions["sum"] == 3.5
    assert functions["types"] == MIXED_TYPES
    assert functions["caller"] == user_id
    assert functions["echo"][:4] == [
        {"js": "number", "value": 1},
        {"js": "number", "value": 2.5},
        {"js": "string", "value": "héllo ☃ 😀"},
        {"js": "object", "value": {"nested": {"list": [1, "two", None, True]}}},
    ]
    oid, date, long, decimal = functions["echo"][4:]
    assert oid["bson"] in ("ObjectId", "ObjectID") and oid["text"] == "5f1d7c3a9b1e8a0012345678"
    assert date == {"date": "2020-01-01T00:00:00.123Z"}
    assert long == {"js": "number", "value": 1099511627776}  # relaxed: a safe integer
    assert decimal == {"bson": "Decimal128", "text": "1.10"}
    assert functions["refused"]["errorCode"] == "FunctionExecutionError"
    assert "no, thanks" in functions["refused"]["message"]
    assert functions["unknown"]["errorCode"] == "FunctionNotFound"
    after = steps["function-after-expiry"]
    assert after == {"step": "function-after-expiry", "result": 5, "refreshed": True}

    def retried(log: list[str]) -> bool:
        # The expired token's refusal, then the SDK's retry, answered.
        calls = [line for line in log if line.startswith(f"POST {FUNCTIONS_CALL} ")]
        refused = f"POST {FUNCTIONS_CALL} 401"
        return refused in calls and calls[-1] == f"POST {FUNCTIONS_CALL} 200"

    assert served.logged(retried), served.access_log()


def test_realm_web(sdk_folder: Path, served: Served) -> None:
    email = "realm@example.com"
    steps = drive(
        sdk_folder / "realm_web.js",
        served,
        appId=APP_ID,
        email=email,
        password=PASSWORD,
        jwt=custom_token("idp|realm"),
    )
    # The location answer names this server; every later request went there.
    assert steps["location"]["hostname"] == served.server.url
    assert served.logged(lambda log: f"GET /api/client/v2.0/app/{APP_ID}/location 200" in log)

    anon = steps["anon"]
    assert anon["providerType"] == "anon-user" and anon["identities"] == ["anon-user"]
    assert_device_id(anon["deviceId"])
    assert steps["register"]["again"]["statusCode"] == 409
    assert steps["register"]["again"]["errorCode"] == "AccountNameInUse"
    wrong = steps["wrong-password"]["error"]
    assert (wrong["statusCode"], wrong["errorCode"]) == (401, "InvalidPassword")

    user = steps["userpass"]
    user_id = user["id"]
    assert user_id != anon["id"]
    assert user["providerType"] == "local-userpass" and user["identities"] == ["local-userpass"]
    assert user["email"] == email and user["current"] is True
    assert user["deviceId"] == anon["deviceId"]  # sent back as {"$oid": ...}, kept
    assert_sees(steps["graphql"]["me"], user_id, email)
    note = steps["graphql"]["note"]
    assert note["status"] == 200
    assert note["body"] == {"data": {"createNote": {"text": "from realm-web"}}}

    custom = steps["custom-token"]
    assert custom["id"] not in (user_id, anon["id"])
    assert custom["providerType"] == "custom-token" and custom["identities"] == ["custom-token"]
    assert custom["firstName"] == "Jo"
    assert custom["customData"] == {"plan": "pro"}
    assert_sees(custom["me"], custom["id"], None)

    created = steps["api-key-created"]
    assert created["name"] == "sdk-key" and created["disabled"] is False
    assert created["keyType"] == "string" and created["idType"] == "string"
    assert HEX_ID.match(created["id"])

    assert_refreshes(steps, user_id, email)
    # realm-web's own call with the expired token refreshed and retried by itself.
    assert steps["auto-refresh"] == {"step": "auto-refresh", "changed": True, "email": email}
    assert_functions(steps, served, user_id)
    assert steps["functions"]["callFunction"] == 3
    assert steps["expired"] == 3

    logout = steps["logout"]
    assert logout["state"] == "logged-out" and logout["refreshToken"] is None
    assert_invalid_session(logout["refused"])

    key_login = steps["api-key-login"]
    assert key_login["id"] == user_id and key_login["sameObject"] is True
    assert "local-userpass" in key_login["identities"]
    assert_sees(key_login["me"], user_id, email)

    keys = steps["api-keys"]
    assert keys["fetched"] == {"id": created["id"], "name": "sdk-key", "disabled": False}
    assert keys["fetchedHasKey"] is False  # the secret is shown once, at creation
    assert keys["listed"] == ["other-key", "sdk-key"]
    assert keys["disabled"] is True
    assert keys["disabledLogin"]["statusCode"] == 401
    assert keys["enabledLogin"] == user_id
    assert keys["afterDelete"] == ["sdk-key"]
    assert keys["deletedLogin"]["statusCode"] == 401


def test_stitch_server_sdk(sdk_folder: Path, served: Served, tmp_path: Path) -> None:
    email = "stitch@example.com"
    data_dir = tmp_path / "stitch-data"  # where the SDK keeps its tokens
    data_dir.mkdir()
    steps = drive(
        sdk_folder / "stitch_server.js",
        served,
        appId=APP_ID,
        email=email,
        password=PASSWORD,
        jwt=custom_token("idp|stitch"),
        dataDir=str(data_dir),
    )
    assert served.logged(lambda log: f"GET /api/client/v2.0/app/{APP_ID}/location 200" in log)

    anon = steps["anon"]
    assert anon["providerType"] == "anon-user" and anon["identities"] == ["anon-user"]
    assert_device_id(anon["deviceId"])
    # Stitch 4.9.0 knows neither code: the app sees "Unknown" and the server's message.
    again = steps["register"]["again"]
    assert again["errorCode"] == "Unknown" and again["message"]
    assert steps["wrong-password"]["error"]["errorCode"] == "Unknown"

    user = steps["userpass"]
    user_id = user["id"]
    assert user_id != anon["id"]
    assert user["providerType"] == "local-userpass" and user["identities"] == ["local-userpass"]
    assert user["email"] == email and user["current"] is True
    assert user["deviceId"] == anon["deviceId"]  # sent back as a plain string, kept
    assert_sees(steps["graphql"]["me"], user_id, email)
    assert steps["graphql"]["note"]["body"] == {"data": {"createNote": {"text": "from stitch"}}}

    created = steps["api-key-created"]
    assert created["name"] == "sdk-key" and created["disabled"] is False
    assert created["keyType"] == "string" and HEX_ID.match(created["id"])
    keys = steps["api-keys"]
    assert keys["fetched"] == {"id": created["id"], "name": "sdk-key", "disabled": False}
    assert keys["fetchedKey"] is None  # the secret is shown once, at creation
    assert keys["listed"] == ["other-key", "sdk-key"]
    assert keys["disabled"] is True and keys["enabled"] is False
    assert keys["afterDelete"] == ["sdk-key"]
    assert keys["fetchDeleted"]["errorCode"] == "ApiKeyNotFound"

    assert_refreshes(steps, user_id, email)
    assert_functions(steps, served, user_id)
    assert steps["expired"] == 1

    logout = steps["logout"]
    assert logout["loggedIn"] is False
    assert_invalid_session(logout["refused"])

    key_login = steps["api-key-login"]
    assert key_login["id"] == user_id and key_login["providerType"] == "api-key"
    assert_sees(key_login["me"], user_id, email)

    custom = steps["custom-token"]
    assert custom["id"] not in (user_id, anon["id"])
    assert custom["providerType"] == "custom-token" and custom["identities"] == ["custom-token"]
    assert custom["firstName"] == "Jo"
    assert custom["customData"] == {}  # the SDK's user factory drops it at login
    assert custom["afterRefresh"] == {"plan": "pro"}
    assert_sees(custom["me"], custom["id"], None)
