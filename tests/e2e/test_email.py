"""Accounts by email end to end: ``bastion serve`` mailing through a real SMTP server
(aiosmtpd, in this process), driven by realm-web's ``emailPasswordAuth`` and by GraphQL.

The realm-web script registers, is refused a login until it confirms, asks for the
confirmation mail again, confirms with the link the test read from the newest mail (the
older link is dead), resets its password with the reset mail's link (which ends its
session), and tries bad input. Nothing sleeps: the test waits for each mail to arrive.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import Serve, Server
from tests.e2e.test_sdks import sdk_folder
from tests.smtp_server import SmtpServer, code_of, link_of, smtp

__all__ = ["sdk_folder", "smtp"]

APP_ID = "mail-app"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new passphrase"
SCRIPT_TIMEOUT = 90


RESETS = """
def decide(event):
    facts, *arguments = event.arguments
    assert set(facts) == {"token", "tokenId", "username", "password", "currentPasswordValid"}
    if arguments == ["approve"]:
        return {"status": "success"}
    if arguments == ["later"]:
        return {"status": "pending"}
    return {"status": "fail"}
"""


def write_mail_project(root: Path, smtp: SmtpServer, **auth: Any) -> Path:
    """A project with confirmations required, login codes on, and mail to ``smtp``."""
    root.mkdir(parents=True)
    config = {
        "name": "mail",
        "app_id": APP_ID,
        "auth": {
            "providers": {
                "local-userpass": {"signup": True, "confirmation": "required"},
                "email-code": {"enabled": True, "signup": True},
            },
            **auth,
        },
        "mail": smtp.settings,
        "permissions": {"User": {"read": {"id": "$viewer.id"}}},
        "functions": {"decide_reset": {"handler": "resets:decide", "auth": "reset_password"}},
    }
    (root / "bastion.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (root / "schema.graphql").write_text("type Note { text: String! }\n", encoding="utf-8")
    (root / "resets.py").write_text(RESETS, encoding="utf-8")
    return root


def links(smtp: SmtpServer, count: int) -> list[dict[str, str]]:
    """The ``{tokenId, token}`` of the links of the next ``count`` mails, oldest first."""
    found = []
    for _ in range(count):
        link = link_of(smtp.next_blocking())
        found.append({"tokenId": link["tokenId"], "token": link["token"]})
    return found


def drive_email_script(folder: Path, server: Server, smtp: SmtpServer, log: Path) -> dict[str, Any]:
    """Run realm_web_email.js, answering each of its ``need`` steps from the mails."""
    arguments = {
        "base": server.url,
        "appId": APP_ID,
        "email": "ann@example.com",
        "password": PASSWORD,
        "newPassword": NEW_PASSWORD,
    }
    with log.open("w") as stderr:
        process = subprocess.Popen(
            ["node", "realm_web_email.js", json.dumps(arguments)],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=os.environ,
        )
    assert process.stdin is not None and process.stdout is not None
    backstop = threading.Timer(SCRIPT_TIMEOUT, process.kill)
    backstop.start()
    steps: dict[str, Any] = {}
    try:
        for line in process.stdout:
            step = json.loads(line)
            if step["step"] == "need":
                # Registration and resend sent one mail each; a reset request one (the other
                # went to an address without an account: no mail).
                count = 2 if step["mail"] == "confirm" else 1
                found = links(smtp, count)
                answer = {"old": found[0], "latest": found[-1]}
                process.stdin.write(json.dumps(answer) + "\n")
                process.stdin.flush()
            else:
                steps[step["step"]] = step
        process.wait()
    finally:
        backstop.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "done" in steps, (
        f"{steps.get('error')}\nstderr: {log.read_text()}\nserver log:\n{server.log()}"
    )
    return steps


def test_realm_web_confirms_and_resets_through_the_mails(
    sdk_folder: Path, smtp: SmtpServer, serve: Serve, tmp_path: Path
) -> None:
    project = write_mail_project(tmp_path / "project", smtp)
    server = serve(str(project))
    steps = drive_email_script(sdk_folder, server, smtp, tmp_path / "node.stderr")

    refused = steps["loginBeforeConfirm"]
    assert (refused["statusCode"], refused["errorCode"]) == (401, "AuthError")
    assert "Confirm your email address" in refused["message"]
    assert steps["confirm"]["old"]["errorCode"] == "UserpassTokenInvalid"  # the older link
    assert steps["confirmed"]["again"]["errorCode"] == "UserpassTokenInvalid"  # used once
    assert steps["loggedIn"]["email"] == "ann@example.com"

    assert steps["wrongPurpose"]["error"]["errorCode"] == "UserpassTokenInvalid"
    assert steps["weak"]["error"]["statusCode"] == 400
    reset = steps["reset"]
    assert reset["again"]["errorCode"] == "UserpassTokenInvalid"
    assert reset["refresh"]["statusCode"] == 401  # the reset ended the session
    assert reset["oldPassword"]["errorCode"] == "InvalidPassword"
    assert steps["loggedInAgain"]["id"] == steps["loggedIn"]["id"]

    functions = steps["functions"]
    assert functions["approvedId"] == steps["loggedIn"]["id"]  # "success": reset at once
    assert functions["pendingLeftPassword"] == steps["loggedIn"]["id"]  # "pending": unchanged
    assert (functions["refused"]["statusCode"], functions["refused"]["errorCode"]) == (
        403,
        "Forbidden",
    )
    # No confirmation function: the real service's answer, the same for every address.
    assert (functions["confirm"]["statusCode"], functions["confirm"]["errorCode"]) == (
        400,
        "Unknown",
    )
    assert (
        "cannot run confirmation for ann@example.com: automatic confirmation is enabled"
        in functions["confirm"]["message"]
    )
    assert steps["badInput"]["hugeEmail"]["statusCode"] == 400
    assert steps["badInput"]["injected"]["statusCode"] == 400
    assert smtp.nothing()  # no mail to the unknown address, none for the bad input


CONFIRMS = """
import json
import pathlib

HERE = pathlib.Path(__file__).parent


def decide(event):
    (facts,) = event.arguments
    assert set(facts) == {"token", "tokenId", "username"}
    name = facts["username"].split("@")[0]
    calls = HERE / f"{name}.calls"
    count = int(calls.read_text()) if calls.exists() else 0
    calls.write_text(str(count + 1))
    if name == "flaky" and count == 0:
        raise RuntimeError("the text-message gateway is down")
    if name == "flaky":
        return {"status": "success"}
    if name == "later":
        kept = {"token": facts["token"], "tokenId": facts["tokenId"]}
        (HERE / "later.json").write_text(json.dumps(kept))
        return {"status": "pending"}
    return {"status": "fail"}
"""


def test_realm_web_retries_the_custom_confirmation_function(
    sdk_folder: Path, smtp: SmtpServer, serve: Serve, tmp_path: Path
) -> None:
    project = write_mail_project(tmp_path / "project", smtp)
    config = yaml.safe_load((project / "bastion.yml").read_text(encoding="utf-8"))
    config["functions"] = {"confirm": {"handler": "confirms:decide", "auth": "confirm_user"}}
    (project / "bastion.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (project / "confirms.py").write_text(CONFIRMS, encoding="utf-8")
    server = serve(str(project))
    arguments = {"base": server.url, "appId": APP_ID, "password": PASSWORD, "project": str(project)}
    result = subprocess.run(
        ["node", "realm_web_confirm.js", json.dumps(arguments)],
        cwd=sdk_folder,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    steps = {s["step"]: s for s in map(json.loads, result.stdout.splitlines())}
    assert result.returncode == 0 and "done" in steps, (
        f"{steps.get('error')}\nstderr: {result.stderr}\nserver log:\n{server.log()}"
    )
    # The function's failure at registration left the account waiting; the retry confirmed.
    assert steps["flakyRegistered"]["login"]["errorCode"] == "AuthError"
    assert steps["flakyRetried"]["id"]
    # "pending": refused until the token the function kept is used.
    assert steps["laterConfirmed"]["before"]["errorCode"] == "AuthError"
    assert steps["laterConfirmed"]["id"]
    refused = steps["refused"]
    assert (refused["retry"]["statusCode"], refused["retry"]["errorCode"]) == (403, "Forbidden")
    assert refused["login"]["errorCode"] == "AuthError"
    assert steps["badInput"]["malformed"]["statusCode"] == 400
    assert steps["badInput"]["missing"]["errorCode"] == "InvalidParameter"
    # Runs: flaky twice (failed, then confirmed), later twice, no twice; nobody, and flaky
    # once confirmed, never again.
    runs = {p.stem: int(p.read_text()) for p in project.glob("*.calls")}
    assert runs == {"flaky": 2, "later": 2, "no": 2}
    assert smtp.nothing()  # the function confirms: no mail goes


LOGIN_CODE = """mutation ($email: String, $code: String, $id: String, $token: String) {
  loginEmailCode(input: {email: $email, code: $code, tokenId: $id, token: $token}) {
    accessToken } }"""
VIEWER = "{ viewer { user { id email } } }"


def test_a_login_code_and_a_login_link_over_graphql(
    smtp: SmtpServer, serve: Serve, tmp_path: Path
) -> None:
    project = write_mail_project(tmp_path / "project", smtp)
    server = serve(str(project))
    send = "mutation ($email: String!) { sendLoginCode(input: {email: $email}) }"
    assert server.data(send, {"email": "bo@example.com"}) == {"sendLoginCode": True}
    mail = smtp.next_blocking()
    assert mail["Subject"].startswith("Your login code for mail: ")
    code = code_of(mail)
    token = server.data(LOGIN_CODE, {"email": "bo@example.com", "code": code})
    me = server.data(VIEWER, token=token["loginEmailCode"]["accessToken"])
    assert me["viewer"]["user"]["email"] == "bo@example.com"  # signed up at the first login
    # The same mail's link is the same token: used already.
    link = link_of(mail)
    body = server.post(LOGIN_CODE, {"id": link["tokenId"], "token": link["token"]})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_EMAIL_TOKEN"
    # A new mail, its link this time.
    server.data(send, {"email": "bo@example.com"})
    link = link_of(smtp.next_blocking())
    again = server.data(LOGIN_CODE, {"id": link["tokenId"], "token": link["token"]})
    me = server.data(VIEWER, token=again["loginEmailCode"]["accessToken"])
    assert me["viewer"]["user"]["email"] == "bo@example.com"
