"""Passwordless login as two Bastion functions.

``requestLoginCode(email)`` makes a six-digit code, keeps only its hash (with an expiry) and
delivers the code; ``loginWithCode(email, code)`` checks it and answers an access token bound
to the user, made with ``generate_auth_token``. The first login of an email creates its user.

A code works once, and an email has five checks an hour, whichever codes they name: a new
code does not give more. Each check first takes one of five ``LoginAttempt`` slots of the
email; a slot's name is unique, so of forty parallel checks five get one and the rest are
refused, with no read-then-write for two requests to interleave. Bastion throttles both fields
besides (``credential: true``: per client IP, and per email from the fifth failure).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bastion.functions.runtime import API, Event, FunctionError, GraphQLRequestError

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
ATTEMPT_WINDOW = timedelta(hours=1)
TOKEN_LIFETIME = 3600  # seconds

FIND_CODE = """query ($email: String!) {
  loginCodes(where: {email: $email}) { id codeHash expiresAt }
}"""
FIND_USER = "query ($email: String!) { users(where: {email: $email}) { id isActive } }"
TAKE_SLOT = """mutation ($slot: String!, $email: String!) {
  createLoginAttempt(data: {slot: $slot, email: $email}) { id }
}"""
FIND_SLOTS = (
    "query ($where: LoginAttemptWhereInput!) { loginAttempts(where: $where) { id createdAt } }"
)
FREE_SLOT = "mutation ($id: ID!) { deleteLoginAttempt(id: $id) { id } }"


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
    """``requestLoginCode(email)``: always true, so nobody learns which emails have accounts.

    The new code replaces the one not used; the email's attempts stay counted.
    """
    email = _normal(event.data["email"])
    api, now = event.context.api, event.context.now()
    code = f"{secrets.randbelow(1_000_000):06d}"
    found = (await api.request(FIND_CODE, {"email": email}))["loginCodes"]
    fields = {"codeHash": _hash(email, code), "expiresAt": (now + CODE_LIFETIME).isoformat()}
    if found:
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


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _refused(error: GraphQLRequestError, code: str) -> bool:
    return any((e.get("extensions") or {}).get("code") == code for e in error.errors)


async def _take(api: API, slot: str, email: str) -> bool:
    try:
        await api.request(TAKE_SLOT, {"slot": slot, "email": email}, isolated=True)
    except GraphQLRequestError as error:
        if _refused(error, "CONFLICT"):  # another check holds this slot
            return False
        raise
    return True


async def _take_attempt(api: API, email: str, now: datetime) -> bool:
    """Take one of the email's attempt slots, committed at once; False when all are held.

    A slot held for longer than ATTEMPT_WINDOW is freed and taken again.
    """
    for n in range(MAX_ATTEMPTS):
        slot = f"{n} {email}"
        if await _take(api, slot, email):
            return True
        held = await api.request(FIND_SLOTS, {"where": {"slot": slot}}, isolated=True)
        old = held["loginAttempts"]
        if old and _time(old[0]["createdAt"]) <= now - ATTEMPT_WINDOW:
            try:
                await api.request(FREE_SLOT, {"id": old[0]["id"]}, isolated=True)
            except GraphQLRequestError as error:
                if not _refused(error, "NOT_FOUND"):  # else another check freed it first
                    raise
            if await _take(api, slot, email):
                return True
    return False


async def login_with_code(event: Event) -> dict[str, Any]:
    """``loginWithCode(email, code)``: an access token for the user, or one generic error."""
    email = _normal(event.data["email"])
    api, now = event.context.api, event.context.now()
    refused = FunctionError("Invalid email or code")
    # Isolated: the attempt is taken, and the code read, in transactions of their own, so the
    # count survives the refusal (which undoes everything else this request wrote).
    if not await _take_attempt(api, email, now):
        raise refused
    found = (await api.request(FIND_CODE, {"email": email}, isolated=True))["loginCodes"]
    if not found:
        raise refused
    row = found[0]
    if _time(row["expiresAt"]) <= now:
        raise refused
    if not hmac.compare_digest(row["codeHash"], _hash(email, str(event.data["code"]))):
        raise refused
    # Used once: deleted in this request's transaction, with the user made on first login; of
    # two requests with the same code, the second finds it gone.
    try:
        await api.request(
            "mutation ($id: ID!) { deleteLoginCode(id: $id) { id } }", {"id": row["id"]}
        )
    except GraphQLRequestError as error:
        if _refused(error, "NOT_FOUND"):
            raise refused from None
        raise
    # A login forgets the email's attempts.
    taken = await api.request(FIND_SLOTS, {"where": {"email": email}})
    for attempt in taken["loginAttempts"]:
        await api.request(FREE_SLOT, {"id": attempt["id"]})
    user_id = await _user_id(event, email)
    token = event.context.generate_auth_token(user_id, "User", lifetime=TOKEN_LIFETIME)
    return {"accessToken": token, "accessTokenLifetime": TOKEN_LIFETIME, "userId": user_id}
