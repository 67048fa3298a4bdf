"""Passwordless login as two Bastion functions.

``requestLoginCode(email)`` makes a six-digit code, keeps only its hash (with an expiry and an
attempt counter) and delivers the code; ``loginWithCode(email, code)`` checks it once and
answers an access token bound to the user, made with ``generate_auth_token``. The first login
of an email creates its user.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bastion.functions.runtime import Event, FunctionError

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
TOKEN_LIFETIME = 3600  # seconds

FIND_CODE = """query ($email: String!) {
  loginCodes(where: {email: $email}) { id codeHash expiresAt attempts }
}"""
FIND_USER = "query ($email: String!) { users(where: {email: $email}) { id isActive } }"


def _normal(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise FunctionError("Enter a valid email address")
    return email


def _hash(email: str, code: str) -> str:
    # Salted with the email so one table of the million codes' hashes does not fit every row.
    return hashlib.sha256(f"{email}\0{code}".encode()).hexdigest()


def deliver(email: str, code: str) -> None:
    """Send the code. This example appends it to a file; use your mail service instead."""
    default = Path(__file__).parent / ".bastion" / "outbox.log"
    outbox = Path(os.environ.get("PASSWORDLESS_OUTBOX", default))
    outbox.parent.mkdir(parents=True, exist_ok=True)
    with outbox.open("a", encoding="utf-8") as file:
        file.write(f"{email} {code}\n")


async def request_login_code(event: Event) -> bool:
    """``requestLoginCode(email)``: always true, so nobody learns which emails have accounts."""
    email = _normal(event.data["email"])
    api, now = event.context.api, event.context.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    found = (await api.request(FIND_CODE, {"email": email}))["loginCodes"]
    fields = {
        "codeHash": _hash(email, code),
        "expiresAt": (now + CODE_LIFETIME).isoformat(),
        "attempts": 0,
    }
    if found:  # a new code replaces the one not used
        await api.request(
            "mutation ($id: ID!, $data: LoginCodeUpdateInput!) "
            "{ updateLoginCode(id: $id, data: $data) { id } }",
            {"id": found[0]["id"], "data": fields},
        )
    else:
        await api.request(
            "mutation ($data: LoginCodeCreateInput!) { createLoginCode(data: $data) { id } }",
            {"data": {"email": email, **fields}},
        )
    deliver(email, code)
    return True


async def _user_id(event: Event, email: str) -> str:
    api = event.context.api
    users = (await api.request(FIND_USER, {"email": email}))["users"]
    if users:
        if not users[0]["isActive"]:
            raise FunctionError("Invalid email or code")
        user_id: str = users[0]["id"]
        return user_id
    made = await api.request(
        "mutation ($email: String!) { createUser(data: {email: $email}) { id } }",
        {"email": email},
    )
    new_id: str = made["createUser"]["id"]
    return new_id


async def login_with_code(event: Event) -> dict[str, Any]:
    """``loginWithCode(email, code)``: an access token for the user, or one generic error."""
    email = _normal(event.data["email"])
    api, now = event.context.api, event.context.now()
    refused = FunctionError("Invalid email or code")
    # Isolated: read, and count a wrong attempt, in transactions of their own, so the count
    # survives the refusal (which undoes everything else this request wrote).
    found = (await api.request(FIND_CODE, {"email": email}, isolated=True))["loginCodes"]
    if not found:
        raise refused
    row = found[0]
    expires = datetime.fromisoformat(row["expiresAt"].replace("Z", "+00:00"))
    if expires <= now or row["attempts"] >= MAX_ATTEMPTS:
        raise refused
    if not hmac.compare_digest(row["codeHash"], _hash(email, str(event.data["code"]))):
        await api.request(
            "mutation ($id: ID!, $n: Int!) { updateLoginCode(id: $id, data: {attempts: $n}) "
            "{ id } }",
            {"id": row["id"], "n": row["attempts"] + 1},
            isolated=True,
        )
        raise refused
    # Used once: deleted in this request's transaction, with the user made on first login.
    await api.request("mutation ($id: ID!) { deleteLoginCode(id: $id) { id } }", {"id": row["id"]})
    user_id = await _user_id(event, email)
    token = event.context.generate_auth_token(user_id, "User", lifetime=TOKEN_LIFETIME)
    return {"accessToken": token, "accessTokenLifetime": TOKEN_LIFETIME, "userId": user_id}
