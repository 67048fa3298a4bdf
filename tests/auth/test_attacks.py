"""Forged and tampered access tokens: every one of them makes the request anonymous."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.auth.key_material import SigningKey
from tests.auth.conftest import Auth

# Printable ASCII: what a client can put in a header value.
_CHARACTERS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


class Forger:
    """The claims of a real token of the test's user, and ways to sign changed copies."""

    def __init__(self, auth: Auth, token: str) -> None:
        self.auth = auth
        self.token = token
        # The project's own signing key: the forger holds it, to test the claim checks.
        self.key: SigningKey = auth.service.auth.keys.signing_key()
        self.claims: dict[str, Any] = jwt.decode(
            token,
            self.key.verifier,
            algorithms=[self.key.algorithm],
            audience="test-app",
            options={"verify_iat": False},
        )

    def sign(self, key: Any = None, algorithm: str | None = None, **changes: Any) -> str:
        """The real claims with ``changes`` (None removes a claim), signed with ``key`` (by
        default the project's key, with its kid)."""
        claims = {**self.claims, **changes}
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(
            claims,
            key or self.key.material,
            algorithm=algorithm or self.key.algorithm,
            headers={"kid": self.key.kid},
        )

    def unsigned(self, alg: str, signature: str = "", **changes: Any) -> str:
        """A token whose header says ``alg``, built by hand (no library would make it)."""
        claims = {**self.claims, **changes}
        return f"{_part({'alg': alg, 'typ': 'JWT'})}.{_part(claims)}.{signature}"


@pytest.fixture
async def forger(auth: Auth) -> Forger:
    """A logged-in user's real token, checked to work before anything is changed."""
    token = (await auth.register("ann@example.com"))["accessToken"]
    assert await auth.viewer(token) is not None
    return Forger(auth, token)


@settings(
    max_examples=200,
    deadline=None,
    # The app and its user are made once per test and shared by the examples on purpose:
    # each example only reads.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_any_changed_character_makes_the_request_anonymous(
    forger: Forger, data: st.DataObject
) -> None:
    token = forger.token
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    character = data.draw(_CHARACTERS.filter(lambda c: c != token[index]), label="character")
    changed = token[:index] + character + token[index + 1 :]
    assert await forger.auth.refused(changed) == "ACCESS_TOKEN_INVALID"


async def test_every_change_of_the_signature_is_refused(forger: Forger) -> None:
    # The last characters carry padding bits that a lax base64 decoder ignores: try them all.
    token = forger.token
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index in (len(token) - 1, len(token) - 2):
        for character in alphabet.replace(token[index], ""):
            changed = token[:index] + character + token[index + 1 :]
            assert await forger.auth.refused(changed) == "ACCESS_TOKEN_INVALID", changed[-3:]


async def test_alg_none(forger: Forger, subtests: pytest.Subtests) -> None:
    real_signature = forger.token.rsplit(".", 1)[1]
    for alg, signature in [
        ("none", ""),
        ("none", "x"),
        ("None", ""),
        ("NONE", ""),
        ("none", real_signature),  # the real signature, over another header
    ]:
        with subtests.test(alg=alg, signature=signature[:8]):
            token = forger.unsigned(alg, signature)
            assert await forger.auth.refused(token) == "ACCESS_TOKEN_INVALID"


async def test_another_secret(forger: Forger) -> None:
    token = forger.sign(key=b"another secret of 32 bytes or more!!", algorithm="HS256")
    assert await forger.auth.refused(token) == "ACCESS_TOKEN_INVALID"


# The 32-byte key is short for HS384/HS512 on purpose: it is the project's HS256 key.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_another_algorithm_with_the_right_secret(auth_for: Callable[..., Any]) -> None:
    auth = await auth_for(signing={"algorithm": "HS256"})
    forger = Forger(auth, (await auth.register("ann@example.com"))["accessToken"])
    assert forger.key.algorithm == "HS256"
    assert await auth.viewer(forger.sign()) is not None
    for algorithm in ("HS384", "HS512"):
        assert await forger.auth.refused(forger.sign(algorithm=algorithm)) == "ACCESS_TOKEN_INVALID"


CLAIM_CHANGES: list[dict[str, Any]] = [
    {"typ": "refresh"},
    {"typ": None},
    {"typ": "Access"},
    {"exp": None},
    {"exp": "4102444800"},  # a string exp (PyJWT alone accepts it)
    {"exp": 4102444800.0},
    {"exp": True},
    {"iat": None},
    {"iat": "1893456000"},
    {"sub": None},
    {"sub": ""},
    {"sub": 12},
    {"sid": None},
    {"jti": None},
    {"iss": None},
    {"iss": "bastion:another-app"},
    {"aud": None},
    {"aud": "another-app"},
    {"aud": ["test-app", "another-app"]},  # strict audience: a list does not do
]


async def test_right_secret_wrong_claims(forger: Forger, subtests: pytest.Subtests) -> None:
    # One app for all the cases (an app start costs more than the case).
    for changes in CLAIM_CHANGES:
        with subtests.test(changes=repr(changes)):
            assert await forger.auth.refused(forger.sign(**changes)) == "ACCESS_TOKEN_INVALID"


async def test_the_checks_themselves_let_the_real_claims_through(forger: Forger) -> None:
    # The forger is honest: re-signing the unchanged claims gives a working token.
    assert await forger.auth.viewer(forger.sign()) is not None


async def test_another_users_id_in_a_real_session(forger: Forger) -> None:
    bob = (await forger.auth.register("bob@example.com"))["accessToken"]
    bob_id = jwt.decode(bob, options={"verify_signature": False})["sub"]
    token = forger.sign(sub=bob_id)  # Ann's session, Bob's id
    assert await forger.auth.refused(token) == "SESSION_REVOKED"


async def test_an_unknown_session(forger: Forger) -> None:
    assert await forger.auth.refused(forger.sign(sid="0" * 24)) == "SESSION_REVOKED"


MALFORMED = [
    ("padding", lambda t: t + "="),
    ("more padding", lambda t: t + "=="),
    ("a fourth part", lambda t: t + "."),
    ("a space", lambda t: t.replace(".", " .", 1)),
    ("an empty part", lambda t: t.replace(".", "..", 1)),
    ("a leading dot", lambda t: "." + t),
    ("two parts", lambda t: t.split(".", 1)[1]),
    ("a repeated signature", lambda t: t + "." + t.rsplit(".", 1)[1]),
    ("over 8 KB", lambda t: t + "A" * 9000),
]


async def test_malformed_compact_forms(forger: Forger, subtests: pytest.Subtests) -> None:
    for name, change in MALFORMED:
        with subtests.test(name):
            assert await forger.auth.refused(change(forger.token)) == "ACCESS_TOKEN_INVALID"


async def test_refused_tokens_create_nothing(forger: Forger) -> None:
    # No session, user or renewal comes out of a bad token.
    auth = forger.auth
    before = await auth.gql("{ usersCount }")
    response = await auth.post(
        "{ viewer { user { id } } }", token=forger.sign(key=b"k" * 32, algorithm="HS256")
    )
    assert "x-authorization" not in response.headers
    assert await auth.gql("{ usersCount }") == before
