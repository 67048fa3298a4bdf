"""TOTP as a second factor over GraphQL: enrol, confirm, the login's challenge, recovery
codes, disabling, ``auth.mfa.required``, and the attacks (a replayed code, a forged or
expired challenge, guessing). Codes come from oathtool, never from the code under test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from sqlalchemy import select

from bastion.auth import SYSTEM
from bastion.errors import ProjectError
from bastion.store.auth.factor_tables import RECOVERY_CODE_TABLE, TOTP_TABLE
from bastion.tools.clock import FrozenClock
from tests.auth.conftest import LOGIN, PASSWORD, Auth, error_code
from tests.auth.factors.oath import oathtool_code
from tests.http.stitch.conftest import APP, Stitch
from tests.http.stitch.conftest import BASE as STITCH_BASE

EMAIL = "ada@example.com"
ENROL = "mutation ($p: String) { enrolTotp(input: {password: $p}) { secret uri } }"
CONFIRM = "mutation ($c: String!) { confirmTotp(input: {code: $c}) }"
COMPLETE = """
mutation ($ch: String!, $c: String!) {
  completeMfaLogin(input: {challenge: $ch, code: $c}) { accessToken refreshToken }
}
"""
DISABLE = "mutation ($c: String!) { disableTotp(input: {code: $c}) }"
STATUS = "{ mfaStatus { totpEnrolled totpConfirmed recoveryCodesLeft sessionMfa } }"


async def _enrolled(auth: Auth, clock: FrozenClock) -> tuple[str, str, list[str]]:
    """A user with a confirmed authenticator: (access token, secret, recovery codes)."""
    token = (await auth.register(EMAIL))["accessToken"]
    body = await auth.gql(ENROL, {"p": PASSWORD}, token)
    assert "errors" not in body, body
    secret = body["data"]["enrolTotp"]["secret"]
    codes = await auth.gql(CONFIRM, {"c": oathtool_code(secret, clock())}, token)
    assert "errors" not in codes, codes
    return token, secret, codes["data"]["confirmTotp"]


async def _challenge(auth: Auth) -> str:
    body = await auth.login(EMAIL)
    assert error_code(body) == "MFA_REQUIRED", body
    assert body["data"] is None or body["data"]["loginEmailPassword"] is None
    extensions = body["errors"][0]["extensions"]
    assert extensions["factors"] == ["totp"]
    challenge: str = extensions["challenge"]
    return challenge


async def test_enrol_shows_an_otpauth_uri_and_keeps_the_secret_sealed(
    auth: Auth, clock: FrozenClock
) -> None:
    token = (await auth.register(EMAIL))["accessToken"]
    enrolment = (await auth.gql(ENROL, {"p": PASSWORD}, token))["data"]["enrolTotp"]
    uri = urlparse(enrolment["uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [enrolment["secret"]]
    assert unquote(uri.path) == f"/test:{EMAIL}"
    # Not confirmed yet: logins still answer tokens.
    assert "errors" not in await auth.login(EMAIL)
    table = auth.service.store.tables.metadata.tables[TOTP_TABLE]
    async with auth.service.store.db.read() as conn:
        sealed = (await conn.execute(select(table.c.sealed_secret))).scalar_one()
    assert enrolment["secret"].encode() not in sealed


async def test_enrol_needs_the_password(auth: Auth) -> None:
    token = (await auth.register(EMAIL))["accessToken"]
    assert error_code(await auth.gql(ENROL, {"p": "wrong password!"}, token)) == (
        "INVALID_CREDENTIALS"
    )
    assert error_code(await auth.gql(ENROL, {}, token)) == "INVALID_CREDENTIALS"


async def test_a_wrong_code_does_not_confirm(auth: Auth, clock: FrozenClock) -> None:
    token = (await auth.register(EMAIL))["accessToken"]
    secret = (await auth.gql(ENROL, {"p": PASSWORD}, token))["data"]["enrolTotp"]["secret"]
    clock.advance(120)  # four steps later: the code of then is too old
    stale = oathtool_code(secret, clock.now.replace(minute=0, second=0))
    assert error_code(await auth.gql(CONFIRM, {"c": stale}, token)) == "INVALID_CREDENTIALS"
    status = (await auth.gql(STATUS, token=token))["data"]["mfaStatus"]
    assert status == {
        "totpEnrolled": True,
        "totpConfirmed": False,
        "recoveryCodesLeft": 0,
        "sessionMfa": False,
    }


async def test_login_answers_a_challenge_then_tokens_for_the_code(
    auth: Auth, clock: FrozenClock
) -> None:
    _, secret, codes = await _enrolled(auth, clock)
    assert len(codes) == 10 and len(set(codes)) == 10
    challenge = await _challenge(auth)
    clock.advance(30)  # the confirming code's step is taken
    body = await auth.gql(COMPLETE, {"ch": challenge, "c": oathtool_code(secret, clock())})
    assert "errors" not in body, body
    token = body["data"]["completeMfaLogin"]["accessToken"]
    assert (await auth.viewer(token) or {})["email"] == EMAIL
    status = (await auth.gql(STATUS, token=token))["data"]["mfaStatus"]
    assert status["sessionMfa"] is True and status["recoveryCodesLeft"] == 10


async def test_a_wrong_password_of_a_user_with_a_factor_gets_no_challenge(
    auth: Auth, clock: FrozenClock
) -> None:
    # The login reads the user's factors while the password's hash runs: what it found is
    # answered only once the password is right.
    await _enrolled(auth, clock)
    body = await auth.login(EMAIL, "not the password")
    assert error_code(body) == "INVALID_CREDENTIALS"
    assert "challenge" not in body["errors"][0].get("extensions", {})
    assert await _challenge(auth)


async def test_a_code_is_taken_once(auth: Auth, clock: FrozenClock) -> None:
    _, secret, _ = await _enrolled(auth, clock)
    clock.advance(30)
    code = oathtool_code(secret, clock())
    first = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": code})
    assert "errors" not in first, first
    replay = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": code})
    assert error_code(replay) == "INVALID_CREDENTIALS"
    # The previous step's code, still within the ±1 window, is older than the one taken.
    previous = oathtool_code(secret, clock.now.replace(second=0))
    older = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": previous})
    assert error_code(older) == "INVALID_CREDENTIALS"


async def test_one_step_of_drift_either_way(auth: Auth, clock: FrozenClock) -> None:
    _, secret, _ = await _enrolled(auth, clock)
    clock.advance(90)
    behind = oathtool_code(secret, clock.now.replace(second=0))  # the step before now
    ok = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": behind})
    assert "errors" not in ok, ok
    clock.advance(30)

    far = oathtool_code(secret, clock() + timedelta(seconds=60))  # two steps ahead
    assert error_code(await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": far})) == (
        "INVALID_CREDENTIALS"
    )
    ahead = oathtool_code(secret, clock() + timedelta(seconds=30))
    assert "errors" not in await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": ahead})


async def test_a_recovery_code_works_once(auth: Auth, clock: FrozenClock) -> None:
    _, _, codes = await _enrolled(auth, clock)
    typed = codes[0].upper().replace("-", " ")  # as a person may type it
    body = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": typed})
    assert "errors" not in body, body
    again = await auth.gql(COMPLETE, {"ch": await _challenge(auth), "c": codes[0]})
    assert error_code(again) == "INVALID_CREDENTIALS"
    table = auth.service.store.tables.metadata.tables[RECOVERY_CODE_TABLE]
    async with auth.service.store.db.read() as conn:
        digests = (await conn.execute(select(table.c.digest))).scalars().all()
    assert len(digests) == 9 and not {c.replace("-", "") for c in codes} & set(digests)


async def test_forged_and_expired_challenges_are_refused(auth: Auth, clock: FrozenClock) -> None:
    _, secret, _ = await _enrolled(auth, clock)
    challenge = await _challenge(auth)
    body, _, signature = challenge.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    clock.advance(30)
    code = oathtool_code(secret, clock())
    assert error_code(await auth.gql(COMPLETE, {"ch": forged, "c": code})) == (
        "INVALID_CREDENTIALS"
    )
    clock.advance(300)  # the challenge's five minutes are over
    code = oathtool_code(secret, clock())
    assert error_code(await auth.gql(COMPLETE, {"ch": challenge, "c": code})) == (
        "INVALID_CREDENTIALS"
    )


async def test_guessing_codes_locks_the_factor(auth: Auth, clock: FrozenClock) -> None:
    _, secret, _ = await _enrolled(auth, clock)
    challenge = await _challenge(auth)
    codes = set()
    for guess in range(10):
        clock.advance(20)  # past every delay (1, 2, 4, 8, 16 s): only the lock stops them
        body = await auth.gql(COMPLETE, {"ch": challenge, "c": f"{guess:06d}"})
        codes.add(error_code(body))
    assert codes <= {"INVALID_CREDENTIALS", "RATE_LIMITED"}
    challenge = await _challenge(auth)
    right = await auth.gql(COMPLETE, {"ch": challenge, "c": oathtool_code(secret, clock())})
    assert error_code(right) == "INVALID_CREDENTIALS"  # locked: even the right code


async def test_disable_needs_a_code(auth: Auth, clock: FrozenClock) -> None:
    token, _, codes = await _enrolled(auth, clock)
    assert error_code(await auth.gql(DISABLE, {"c": "000000"}, token)) == "INVALID_CREDENTIALS"
    assert "errors" not in await auth.gql(DISABLE, {"c": codes[1]}, token)
    assert "errors" not in await auth.login(EMAIL)  # tokens again, no challenge


async def test_mfa_required_refuses_sessions_without_a_factor(
    auth_for: Callable[..., Any], clock: FrozenClock
) -> None:
    auth: Auth = await auth_for(mfa={"required": True})
    token = (await auth.register(EMAIL))["accessToken"]
    refused = await auth.gql("{ movies { id } }", token=token)
    assert error_code(refused) == "MFA_REQUIRED"
    # The auth fields still answer: the user can set a factor up.
    secret = (await auth.gql(ENROL, {"p": PASSWORD}, token))["data"]["enrolTotp"]["secret"]
    assert "errors" not in await auth.gql(CONFIRM, {"c": oathtool_code(secret, clock())}, token)
    clock.advance(30)
    done = await auth.gql(
        COMPLETE, {"ch": await _challenge(auth), "c": oathtool_code(secret, clock())}
    )
    strong = done["data"]["completeMfaLogin"]["accessToken"]
    assert (await auth.gql("{ movies { id } }", token=strong))["data"] == {"movies": []}


async def test_the_challenge_is_not_a_token(auth: Auth, clock: FrozenClock) -> None:
    await _enrolled(auth, clock)
    challenge = await _challenge(auth)
    assert await auth.viewer(challenge) is None
    assert error_code(await auth.gql(LOGIN, {"email": EMAIL, "password": "nope nope"})) == (
        "INVALID_CREDENTIALS"
    )


async def test_stitch_login_answers_mfa_required_then_completes(stitch: Stitch) -> None:
    email, clock = "ann@example.com", stitch.clock
    first = await stitch.user(email)
    enrolled = await stitch.graphql(first["access_token"], ENROL, variables={"p": PASSWORD})
    secret = enrolled.json()["data"]["enrolTotp"]["secret"]
    code = oathtool_code(secret, clock())
    confirmed = await stitch.graphql(first["access_token"], CONFIRM, variables={"c": code})
    assert "errors" not in confirmed.json(), confirmed.json()
    refused = await stitch.login("local-userpass", {"username": email, "password": PASSWORD})
    assert refused.status_code == 401
    body = refused.json()
    assert body["error_code"] == "MfaRequired" and body["factors"] == ["totp"]
    complete = f"{STITCH_BASE}/app/{APP}/auth/mfa/complete"
    clock.advance(30)
    done = await stitch.http.post(
        complete, json={"challenge": body["challenge"], "code": oathtool_code(secret, clock())}
    )
    assert done.status_code == 200, done.text
    assert set(done.json()) == {"access_token", "refresh_token", "user_id", "device_id"}
    again = await stitch.http.post(
        complete, json={"challenge": body["challenge"], "code": oathtool_code(secret, clock())}
    )
    assert again.status_code == 401 and again.json()["error_code"] == "AuthError"


async def test_the_mfa_rule_lets_only_second_factor_sessions_read(
    make_project: Callable[..., Any], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    rules = {
        "Movie": {"read": "mfa", "create": "root", "update": "root", "delete": "root"},
        "Person": {"read": "everyone"},
        "User": {"read": "authenticated"},
    }
    auth_config = {"providers": {"local-userpass": {"signup": True}}}
    auth = Auth(await client_for(make_project(permissions=rules, auth=auth_config)))
    await auth.service.executor.run(
        'mutation { createMovie(data: {title: "M"}) { id } }', viewer=SYSTEM
    )
    token, secret, _ = await _enrolled(auth, clock)
    hidden = await auth.gql("{ movies { title } }", token=token)
    assert hidden == {"data": {"movies": []}}  # a session without a second factor
    clock.advance(30)
    done = await auth.gql(
        COMPLETE, {"ch": await _challenge(auth), "c": oathtool_code(secret, clock())}
    )
    strong = done["data"]["completeMfaLogin"]["accessToken"]
    shown = await auth.gql("{ movies { title } }", token=strong)
    assert shown == {"data": {"movies": [{"title": "M"}]}}


async def test_a_filter_rule_may_ask_viewer_mfa_too(
    make_project: Callable[..., Any], client_for: Callable[..., Any], clock: FrozenClock
) -> None:
    rules = {
        "Movie": {
            "read": {"$viewer.mfa": True, "title_starts_with": "Open"},
            "create": "root",
            "update": "root",
            "delete": "root",
        },
        "Person": {"read": "everyone"},
        "User": {"read": "authenticated"},
    }
    auth_config = {"providers": {"local-userpass": {"signup": True}}}
    auth = Auth(await client_for(make_project(permissions=rules, auth=auth_config)))
    for title in ("Open Water", "Closed Doors"):
        await auth.service.executor.run(
            "mutation ($t: String!) { createMovie(data: {title: $t}) { id } }",
            {"t": title},
            viewer=SYSTEM,
        )
    token, secret, _ = await _enrolled(auth, clock)
    assert await auth.gql("{ movies { title } }", token=token) == {"data": {"movies": []}}
    clock.advance(30)
    done = await auth.gql(
        COMPLETE, {"ch": await _challenge(auth), "c": oathtool_code(secret, clock())}
    )
    strong = done["data"]["completeMfaLogin"]["accessToken"]
    shown = await auth.gql("{ movies { title } }", token=strong)
    assert shown == {"data": {"movies": [{"title": "Open Water"}]}}


def test_viewer_mfa_takes_only_true(make_project: Callable[..., Any]) -> None:
    with pytest.raises(ProjectError, match=r"\$viewer.mfa: only `true`"):
        make_project(permissions={"Movie": {"read": {"$viewer.mfa": False}}})


async def test_mfa_required_per_type(auth_for: Callable[..., Any], clock: FrozenClock) -> None:
    auth: Auth = await auth_for(mfa={"required": ["Movie"]})
    await auth.service.executor.run(
        'mutation { createMovie(data: {title: "M"}) { id } }', viewer=SYSTEM
    )
    await auth.service.executor.run(
        'mutation { createPerson(data: {name: "P"}) { id } }', viewer=SYSTEM
    )
    token, secret, _ = await _enrolled(auth, clock)
    weak = await auth.gql("{ movies { title } people { name } }", token=token)
    assert weak == {"data": {"movies": [], "people": [{"name": "P"}]}}
    clock.advance(30)
    done = await auth.gql(
        COMPLETE, {"ch": await _challenge(auth), "c": oathtool_code(secret, clock())}
    )
    strong = done["data"]["completeMfaLogin"]["accessToken"]
    shown = await auth.gql("{ movies { title } people { name } }", token=strong)
    assert shown == {"data": {"movies": [{"title": "M"}], "people": [{"name": "P"}]}}


def test_mfa_required_names_types_with_rules(make_project: Callable[..., Any]) -> None:
    from bastion.project.service import Service

    project = make_project(auth={"mfa": {"required": ["Nope"]}})
    with pytest.raises(ProjectError, match="Nope"):
        Service(project, FrozenClock(), b"s" * 32)
