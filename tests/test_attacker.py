"""An attacker's afternoon: the cases of RFC 8725 and of the OWASP JWT and GraphQL cheat sheets.

Every hostile request is answered safely: never a 500, never a token accepted that Bastion did
not sign, and nothing written (counted in the database after each attack).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from bastion.auth import SYSTEM
from bastion.store.auth.tables import SESSION_TABLE
from tests.conftest import GraphQLClient, unauthenticated, write_project
from tests.e2e.conftest import Serve, post_with_huge_header, rss_bytes, serve  # noqa: F401

SCHEMA = """
type Movie {
  title: String! @unique
  director: Person
}

type Person {
  name: String!
  movies: [Movie!]!
}
"""
PASSWORD = "correct horse battery"
VIEWER = "{ viewer { user { id } } }"
SIGNUP = {"providers": {"local-userpass": {"signup": True}, "api-key": {"enabled": True}}}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWT with any header and signature, as an attacker writes one by hand."""
    parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64(p) for p in parts), b64(signature)])


class Target:
    """A served project with one real user, and counts of what attacks could have written."""

    def __init__(self, client: GraphQLClient) -> None:
        self.client = client
        self.claims: dict[str, Any] = {}

    @property
    def service(self) -> Any:
        return self.client.app.state.service

    async def rows(self) -> dict[str, int]:
        store = self.service.store
        tables = {
            "users": store.tables["User"],
            "movies": store.tables["Movie"],
            "sessions": store.tables.metadata.tables[SESSION_TABLE],
        }
        async with store.db.read() as conn:
            return {
                name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
                for name, t in tables.items()
            }

    async def as_bearer(self, token: str) -> dict[str, Any]:
        """The viewer a request with ``token`` runs as; the token must be refused."""
        response = await self.client.http.post(
            "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def signed_up(client: GraphQLClient) -> Target:
    """Ann registered on ``client``, with the claims of her real token."""
    found = Target(client)
    registered = await client.data(
        "mutation ($p: String!) { registerUserEmailPassword(input: "
        '{email: "ann@example.com", password: $p}) { accessToken } }',
        {"p": PASSWORD},
    )
    token = registered["registerUserEmailPassword"]["accessToken"]
    # A real token's claims: the forgeries below reuse them, so only the signature is wrong.
    found.claims = jwt.decode(token, options={"verify_signature": False})
    return found


@pytest.fixture
async def target(make_project: Callable[..., Any], client_for: Callable[..., Any]) -> Target:
    return await signed_up(await client_for(make_project(SCHEMA, auth=SIGNUP)))


def refused(body: dict[str, Any]) -> None:
    """The forged token was refused and nothing ran."""
    assert "data" not in body, body
    assert unauthenticated(body) == "ACCESS_TOKEN_INVALID", body


# -- tokens (RFC 8725, OWASP JWT cheat sheet) -----------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_in_every_casing(target: Target, alg: str) -> None:
    before = await target.rows()
    refused(await target.as_bearer(forged({"alg": alg, "typ": "JWT"}, target.claims)))
    refused(await target.as_bearer(forged({"alg": alg}, target.claims)[:-1]))  # no "." at end
    assert await target.rows() == before


async def test_a_token_signed_with_another_secret(target: Target) -> None:
    token = jwt.encode(target.claims, "a" * 64, algorithm="HS256")
    refused(await target.as_bearer(token))


@pytest.mark.parametrize(
    "kid", ["../../../../../../dev/null", "' OR '1'='1", 'x\'; DROP TABLE "User"; --', "\u0000"]
)
async def test_kid_traversal_and_injection(target: Target, kid: str) -> None:
    before = await target.rows()
    # An empty HMAC key (what /dev/null would give), and a guessable one.
    for key in (b"\x00" * 32, b"0" * 32):
        token = jwt.encode(target.claims, key, algorithm="HS256", headers={"kid": kid})
        refused(await target.as_bearer(token))
    assert await target.rows() == before


async def test_keys_named_by_the_token_itself_are_never_fetched_or_trusted(
    target: Target,
) -> None:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key()))
    headers = [
        {"jku": "http://127.0.0.1:9/keys.json"},
        {"x5u": "http://127.0.0.1:9/cert.pem"},
        {"jwk": public_jwk},
        {"x5c": ["MIIB"]},
    ]
    for extra in headers:
        token = jwt.encode(target.claims, attacker, algorithm="RS256", headers=extra)
        refused(await target.as_bearer(token))


async def test_zero_value_ecdsa_signatures(target: Target) -> None:
    # CVE-2022-21449 ("psychic signatures"): r = s = 0 verified everything in some libraries.
    for alg, size in (("ES256", 64), ("ES384", 96), ("ES512", 132)):
        refused(
            await target.as_bearer(forged({"alg": alg, "typ": "JWT"}, target.claims, b"\0" * size))
        )
    key = ec.generate_private_key(ec.SECP256R1())
    refused(await target.as_bearer(jwt.encode(target.claims, key, algorithm="ES256")))


async def test_tampered_claims_and_shapes(target: Target) -> None:
    real = jwt.encode(target.claims, "b" * 64, algorithm="HS256")  # wrong key on purpose
    header, payload, signature = real.split(".")
    cases = [
        f"{header}.{payload}.{signature}=",
        f"{header}.{payload}",
        f"{header}.{payload}.{signature}.{signature}",
        "a" * 10_000,
        "Bearer",
        "\u2603.\u2603.\u2603",
    ]
    for token in cases:
        response = await target.client.http.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"Authorization": f"Bearer {token}".encode()},
        )
        assert response.status_code == 200
        assert "data" not in response.json()  # refused, nothing ran
        assert unauthenticated(response.json()) == "ACCESS_TOKEN_INVALID", token[:40]


# -- Bastion's own signing keys (kid, algorithm pinned by the key) -------------------------


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token made by hand: PyJWT refuses a PEM as an HMAC secret, an attacker not."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


async def own_target(
    make_project: Callable[..., Any], client_for: Callable[..., Any], algorithm: str
) -> Target:
    auth = {**SIGNUP, "signing": {"algorithm": algorithm}}
    return await signed_up(await client_for(make_project(SCHEMA, auth=auth)))


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_hs256_with_the_public_key_as_secret(
    make_project: Callable[..., Any], client_for: Callable[..., Any], algorithm: str
) -> None:
    # The HS/RS confusion: the public key is public (it is in the JWKS); used as an HMAC
    # secret, it would forge any token if the token's alg were believed.
    target = await own_target(make_project, client_for, algorithm)
    key = target.service.auth.keys.signing_key()
    public = key.verifier
    honest = jwt.encode(target.claims, key.material, algorithm=algorithm, headers={"kid": key.kid})
    assert (await target.as_bearer(honest))["data"]["viewer"]["user"] is not None
    jwks = (await target.client.http.get("/.well-known/jwks.json")).text
    secrets = [
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
        json.dumps(key.public_jwk()).encode(),
        jwks.encode(),
    ]
    before = await target.rows()
    for secret in secrets:
        for header in ({"alg": "HS256", "kid": key.kid}, {"alg": "HS256"}):
            refused(await target.as_bearer(hs256(header, target.claims, secret)))
    assert await target.rows() == before


async def test_the_real_kid_with_another_algorithm(target: Target) -> None:
    kid = target.service.auth.keys.signing_key().kid  # an Ed25519 key (the default)
    refused(await target.as_bearer(forged({"alg": "none", "kid": kid}, target.claims)))
    for algorithm, key in (
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
        ("EdDSA", ed25519.Ed25519PrivateKey.generate()),  # the right algorithm, not our key
        ("HS256", b"k" * 32),
    ):
        token = jwt.encode(target.claims, key, algorithm=algorithm, headers={"kid": kid})
        refused(await target.as_bearer(token))


@pytest.mark.parametrize(
    "kid",
    [
        "../../secret",
        "../../../.bastion/secret",
        "/dev/null",
        "' OR 1=1 --",
        "keys/../secret",
        "legacy",
        "a" * 16,  # shaped like our kids, but unknown
    ],
)
async def test_kids_that_name_no_key_of_ours(target: Target, kid: str) -> None:
    # Even signed with what the path names (the server secret itself), a kid is only ever
    # looked up among the loaded keys.
    server_secret = (target.service.project.data_dir / "secret").read_bytes().strip()
    before = await target.rows()
    for key, algorithm in (
        (server_secret, "HS256"),
        (b"\0" * 32, "HS256"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ):
        token = jwt.encode(target.claims, key, algorithm=algorithm, headers={"kid": kid})
        refused(await target.as_bearer(token))
    assert await target.rows() == before


# -- GraphQL (OWASP GraphQL cheat sheet) ----------------------------------------------------


async def test_a_hundred_aliased_logins_are_one_refusal(target: Target) -> None:
    before = await target.rows()
    aliases = " ".join(
        f'a{i}: loginEmailPassword(input: {{email: "ann@example.com", password: "g{i}"}}) '
        "{ accessToken }"
        for i in range(100)
    )
    body = await target.client.gql(f"mutation {{ {aliases} }}")
    # Over the alias limit before the one-credential rule is even asked.
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert body["errors"][0]["extensions"]["found"] == 100
    assert await target.rows() == before


async def test_a_batch_of_fifty_operations_is_refused(target: Target) -> None:
    before = await target.rows()
    login = (
        'mutation { loginEmailPassword(input: {email: "ann@example.com", password: "x"}) '
        "{ accessToken } }"
    )
    response = await target.client.http.post("/graphql", json=[{"query": login}] * 50)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await target.rows() == before


async def test_a_hundred_deep_query_is_answered_safely(target: Target) -> None:
    query = "{ movies { director { movies { " * 50 + "title" + " } } }" * 50
    response = await target.client.http.post("/graphql", json={"query": query})
    assert response.status_code in (200, 400)
    body = response.json()
    assert "errors" not in body or body["errors"][0]["extensions"]["code"] != (
        "INTERNAL_SERVER_ERROR"
    )


async def test_a_ten_megabyte_body(target: Target) -> None:
    before = await target.rows()
    title = "x" * (10 * 1024 * 1024)
    response = await target.client.http.post(
        "/graphql",
        json={"query": "mutation ($t: String!) { createMovie(data: {title: $t}) { id } }",
              "variables": {"t": title}},
    )  # fmt: skip
    assert response.status_code == 413
    assert await target.rows() == before


# -- hostile text in every input -------------------------------------------------------------

HOSTILE = ["\u0000", "a\u0000b", "\ud800", "x\udfff", "\ud83d"]
INPUTS = [
    ("mutation ($v: String!) { loginEmailPassword(input: {email: $v, password: $v}) "
     "{ accessToken } }"),
    ("mutation ($v: String!) { registerUserEmailPassword(input: {email: $v, password: $v}) "
     "{ accessToken } }"),
    "mutation ($v: String!) { refreshToken(input: {refreshToken: $v}) { accessToken } }",
    "mutation ($v: String!) { logout(input: {refreshToken: $v}) }",
    "mutation ($v: String!) { loginApiKey(input: {key: $v}) { accessToken } }",
    "mutation ($v: String!) { createMovie(data: {title: $v}) { id } }",
    "query ($v: String!) { movies(where: {title_contains: $v}) { id } }",
    "query ($v: ID!) { movie(id: $v) { id } }",
]  # fmt: skip


@pytest.mark.parametrize("query", INPUTS)
async def test_nul_bytes_and_lone_surrogates_in_every_text_input(
    target: Target, query: str
) -> None:
    before = await target.rows()
    for value in HOSTILE:
        raw = json.dumps({"query": query, "variables": {"v": value}})  # \u escapes, as sent
        response = await target.client.http.post(
            "/graphql", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code in (200, 400), (value, response.text)
        body = response.json()
        if "errors" in body:
            codes = {e["extensions"]["code"] for e in body["errors"]}
            assert "INTERNAL_SERVER_ERROR" not in codes, (value, body)
    assert await target.rows() == before


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_text_on_the_stitch_routes(target: Target, value: str) -> None:
    before = await target.rows()
    base = "/api/client/v2.0/app/test-app/auth/providers"
    for path, body in (
        ("/local-userpass/login", {"username": value, "password": value}),
        ("/local-userpass/register", {"email": value, "password": value}),
        ("/api-key/login", {"key": value}),
    ):
        raw = json.dumps(body)
        response = await target.client.http.post(
            base + path, content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code in (400, 401, 404), (path, value, response.text)
    assert await target.rows() == before


# -- relation writes and connect errors (issue 13) ------------------------------------------

EXAMPLES = Path(__file__).parent.parent / "examples"


async def _user(client: GraphQLClient, email: str) -> tuple[dict[str, str], str]:
    """Register ``email``; its bearer header and user id."""
    data = await client.data(
        "mutation($e: String!, $p: String!) { registerUserEmailPassword("
        "input: {email: $e, password: $p}) { accessToken } }",
        {"e": email, "p": PASSWORD},
    )
    headers = {"Authorization": f"Bearer {data['registerUserEmailPassword']['accessToken']}"}
    viewer = await client.gql(VIEWER, headers=headers)
    return headers, viewer["data"]["viewer"]["user"]["id"]


async def _as_root(client: GraphQLClient, query: str) -> dict[str, Any]:
    outcome = await client.app.state.service.executor.run(query, {}, viewer=SYSTEM)
    assert "errors" not in outcome.body, outcome.body
    data: dict[str, Any] = outcome.body["data"]
    return data


async def test_moving_anothers_task_into_ones_own_project(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    by_project = {"project": {"owner": {"id": "$viewer.id"}}}
    own = {"owner": {"id": "$viewer.id"}}
    client = await client_for(
        make_project(
            "type Project { name: String! @unique owner: User tasks: [Task!]! }\n"
            "type Task { title: String! @unique secret: String project: Project }\n"
            "extend type User { projects: [Project!]! }",
            auth=SIGNUP,
            permissions={
                "Project": {"read": own, "create": "authenticated", "update": own},
                "Task": {"read": by_project, "create": "authenticated", "update": by_project},
                "User": {"read": {"id": "$viewer.id"}},
            },
        )
    )
    ann, ann_id = await _user(client, "ann@example.com")
    bob, bob_id = await _user(client, "bob@example.com")
    for who, headers, user in (("ann", ann, ann_id), ("bob", bob, bob_id)):
        body = await client.gql(
            "mutation($u: ID!, $n: String!) { createProject(data: {name: $n, owner: {connect: "
            '{id: $u}}, tasks: {create: [{title: $n, secret: "s"}]}}) { id tasks { id } } }',
            {"u": user, "n": who},
            headers=headers,
        )
        assert "errors" not in body, body
        if who == "ann":
            ann_task = body["data"]["createProject"]["tasks"][0]["id"]
        else:
            bob_project = body["data"]["createProject"]["id"]

    for document in (
        "mutation($p: ID!, $t: ID!) { updateProject(id: $p, data: {tasks: {connect: [{id: $t}]}})"
        " { id } }",
        "mutation($p: ID!, $t: ID!) { updateProject(id: $p, data: {tasks: {set: [{id: $t}]}})"
        " { id } }",
        'mutation($t: ID!) { createProject(data: {name: "x", tasks: {connect: [{id: $t}]}}) '
        "{ id } }",
    ):
        body = await client.gql(document, {"p": bob_project, "t": ann_task}, headers=bob)
        assert body["data"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
    tasks = await _as_root(client, "{ tasks(orderBy: title_ASC) { title project { name } } }")
    assert tasks["tasks"] == [
        {"title": "ann", "project": {"name": "ann"}},
        {"title": "bob", "project": {"name": "bob"}},
    ]


def _example(name: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    """An example's schema and bastion.yml settings, with ``changes`` merged in."""
    folder = EXAMPLES / name
    config = yaml.safe_load((folder / "bastion.yml").read_text(encoding="utf-8"))
    schema = (folder / "schema.graphql").read_text(encoding="utf-8")
    settings = {k: v for k, v in config.items() if k not in ("name", "app_id", "schema", "seed")}
    settings.pop("database", None)
    settings.pop("server", None)
    for key, value in changes.items():
        settings[key] = {**settings.get(key, {}), **value}
    return schema, settings


async def test_relinking_anothers_movie_from_the_users_side(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    # The movies example, where users may also update their own account.
    schema, settings = _example("movies")
    settings["permissions"]["User"] = {"read": {"id": "$viewer.id"}, "update": {"id": "$viewer.id"}}
    client = await client_for(make_project(schema, **settings))
    ann, ann_id = await _user(client, "ann@example.com")
    bob, bob_id = await _user(client, "bob@example.com")
    body = await client.gql(
        'mutation($u: ID!) { createMovie(data: {title: "Bob\'s", owner: {connect: {id: $u}}}) '
        "{ id } }",
        {"u": bob_id},
        headers=bob,
    )
    bobs_movie = body["data"]["createMovie"]["id"]

    body = await client.gql(
        "mutation($u: ID!, $m: ID!) { updateUser(id: $u, data: {movies: {connect: [{id: $m}]}}) "
        "{ id } }",
        {"u": ann_id, "m": bobs_movie},
        headers=ann,
    )

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert body["errors"][0]["message"] == "Not allowed to update this Movie"
    movies = await _as_root(client, "{ movies { title owner { email } } }")
    assert movies["movies"] == [{"title": "Bob's", "owner": {"email": "bob@example.com"}}]
    edit = await client.gql(
        'mutation($m: ID!) { updateMovie(id: $m, data: {title: "Ann\'s now"}) { id } }',
        {"m": bobs_movie},
        headers=ann,
    )
    assert edit["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_root_only_director_set_from_the_persons_side(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    schema, settings = _example("movies")
    settings["permissions"]["Movie"]["fields"]["director"] = {"write": "root"}
    client = await client_for(make_project(schema, **settings))
    ann, ann_id = await _user(client, "ann@example.com")
    body = await client.gql(
        'mutation($u: ID!) { createMovie(data: {title: "Mine", owner: {connect: {id: $u}}}) '
        "{ id } }",
        {"u": ann_id},
        headers=ann,
    )
    assert "errors" not in body, body

    for document in (
        'mutation { createPerson(data: {name: "P", movies: {connect: [{title: "Mine"}]}}) { id } }',
        'mutation { createPerson(data: {name: "P", movies: {create: [{title: "New"}]}}) { id } }',
    ):
        body = await client.gql(document, headers=ann)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
        assert body["errors"][0]["message"] == "Not allowed to set Movie.director"
    after = await _as_root(client, "{ movies { title director { name } } peopleCount }")
    assert after == {"movies": [{"title": "Mine", "director": None}], "peopleCount": 0}


@pytest.mark.parametrize("who", ["anonymous", "signed in"])
async def test_connect_errors_do_not_tell_which_accounts_exist(
    make_project: Callable[..., Any], client_for: Callable[..., Any], who: str
) -> None:
    schema, settings = _example("movies")
    settings["permissions"]["Movie"]["create"] = "everyone"
    client = await client_for(make_project(schema, **settings))
    await _user(client, "bob@example.com")
    headers = (await _user(client, "eve@example.com"))[0] if who == "signed in" else {}

    answers = []
    for email in ("bob@example.com", "nobody@example.com"):
        body = await client.gql(
            "mutation($e: String!) { createMovie(data: {title: $e, owner: {connect: "
            "{email: $e}}}) { id } }",
            {"e": email},
            headers=headers,
        )
        answers.append(body)

    assert answers[0] == answers[1]
    assert answers[0]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert answers[0]["errors"][0]["message"] == "No User matches the given email"
    assert (await _as_root(client, "{ moviesCount }")) == {"moviesCount": 0}


# -- email identity (issue 13) ----------------------------------------------------------------

OWN_ACCOUNT = {"User": {"read": {"id": "$viewer.id"}, "update": {"id": "$viewer.id"}}}
MALLORY_PASSWORD = "mallory's own password"
UPDATE_EMAIL = """mutation ($id: ID!, $email: String) {
  updateUser(id: $id, data: {email: $email}) { email }
}"""
CHANGE_EMAIL = """mutation ($password: String!, $email: String!) {
  changeEmail(input: {password: $password, newEmail: $email}) { email }
}"""
LOGIN = """mutation ($email: String!, $password: String!) {
  loginEmailPassword(input: {email: $email, password: $password}) { accessToken }
}"""


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def registered(client: GraphQLClient, email: str, password: str) -> tuple[str, str]:
    """(access token, user id) of a new account."""
    data = await client.data(
        "mutation ($e: String!, $p: String!) { registerUserEmailPassword(input: "
        "{email: $e, password: $p}) { accessToken } }",
        {"e": email, "p": password},
    )
    token = data["registerUserEmailPassword"]["accessToken"]
    me = await client.data(VIEWER, headers={"Authorization": f"Bearer {token}"})
    return token, me["viewer"]["user"]["id"]


async def test_another_spelling_of_an_email_never_takes_its_account_over(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, auth=SIGNUP, permissions=OWN_ACCOUNT))
    mallory_token, mallory = await registered(client, "mallory@example.com", MALLORY_PASSWORD)
    _, bob = await registered(client, "bob@example.com", PASSWORD)
    as_mallory = {"Authorization": f"Bearer {mallory_token}"}

    for spelling in ("BOB@EXAMPLE.COM", " Bob@Example.com ", "bob@EXAMPLE.com"):
        # The generated update may change her profile, not the address she logs in with...
        body = await client.gql(UPDATE_EMAIL, {"id": mallory, "email": spelling}, as_mallory)
        assert codes(body) == ["FORBIDDEN"], body
        assert "changeEmail" in body["errors"][0]["message"]
        # ...and the mutation made for that, with her own password, finds Bob's address taken.
        variables = {"password": MALLORY_PASSWORD, "email": spelling}
        assert codes(await client.gql(CHANGE_EMAIL, variables, as_mallory)) == ["CONFLICT"]
    # Look-alikes of Bob's address: a Cyrillic a, full-width letters, an invisible space.
    for lookalike in (
        "bob@ex\u0430mple.com",
        "\uff42\uff4f\uff42@example.com",
        "bob\u200b@example.com",
    ):
        variables = {"password": MALLORY_PASSWORD, "email": lookalike}
        assert codes(await client.gql(CHANGE_EMAIL, variables, as_mallory)) == ["BAD_USER_INPUT"]

    # The Stitch routes take the same rule: no second account, and his password logs in.
    base = "/api/client/v2.0/app/test-app/auth/providers/local-userpass"
    response = await client.http.post(
        f"{base}/register", json={"email": "BOB@Example.COM", "password": MALLORY_PASSWORD}
    )
    assert response.status_code == 409, response.text
    response = await client.http.post(
        f"{base}/login", json={"username": "Bob@EXAMPLE.com", "password": PASSWORD}
    )
    assert response.status_code == 200 and response.json()["user_id"] == bob

    # Bob's password opens Bob's account, by any spelling; Mallory's opens neither.
    for spelling in ("bob@example.com", "BOB@EXAMPLE.COM"):
        data = await client.data(LOGIN, {"email": spelling, "password": PASSWORD})
        token = data["loginEmailPassword"]["accessToken"]
        me = await client.data(VIEWER, headers={"Authorization": f"Bearer {token}"})
        assert me["viewer"]["user"]["id"] == bob
        body = await client.gql(LOGIN, {"email": spelling, "password": MALLORY_PASSWORD})
        assert codes(body) == ["INVALID_CREDENTIALS"]
    service = client.app.state.service
    users = service.store.tables["User"]
    async with service.store.db.read() as conn:
        rows = (await conn.execute(select(users.c.id, users.c.email).order_by(users.c.id))).all()
    assert [tuple(r) for r in rows] == [(mallory, "mallory@example.com"), (bob, "bob@example.com")]


# -- tokens bound to their project and their time (issue 13) ---------------------------------

SHARED_SECRET = "staging-and-production-share-me-" * 2  # one BASTION_SECRET for both


async def test_a_staging_root_token_replayed_on_production(
    make_project: Callable[..., Any],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASTION_SECRET", SHARED_SECRET)
    # The same bastion.yml deployed twice: same name, same app id, same root token names.
    staging = await signed_up(await client_for(make_project(SCHEMA, auth=SIGNUP)))
    production = await signed_up(await client_for(make_project(SCHEMA, auth=SIGNUP)))
    for target in (staging, production):
        await target.service.auth.root_tokens.deploy(["ci"])
    stolen = await staging.service.auth.root_tokens.get("ci")
    before = await production.rows()
    response = await production.client.http.post(
        "/graphql",
        json={"query": "{ viewer { isRoot } users { email } }"},
        headers={"Authorization": f"Bearer {stolen}"},
    )
    body = response.json()
    assert "data" not in body and unauthenticated(body) == "ACCESS_TOKEN_INVALID", body
    assert "ann@example.com" not in response.text
    assert await production.rows() == before


def _with_our_key(target: Target, **claims: Any) -> str:
    """Ann's token re-signed with the project's own signing key (a leaked backup of
    .bastion/keys, say), with ``claims`` changed."""
    key = target.service.auth.keys.signing_key()
    payload = {**target.claims, **claims}
    return jwt.encode(payload, key.material, algorithm=key.algorithm, headers={"kid": key.kid})


async def test_a_token_minted_to_become_valid_later(target: Target) -> None:
    now = int(target.service.clock().timestamp())
    later = _with_our_key(target, nbf=now + 86_400, iat=now, exp=now + 600)
    refused(await target.as_bearer(later))
    refused(await target.as_bearer(_with_our_key(target, nbf=str(now))))


async def test_a_token_minted_to_last_for_years(target: Target) -> None:
    now = int(target.service.clock().timestamp())
    refused(await target.as_bearer(_with_our_key(target, iat=now, exp=now + 10 * 365 * 86_400)))
    lifetime = target.service.auth.tokens.lifetime
    refused(await target.as_bearer(_with_our_key(target, iat=now, exp=now + lifetime + 31)))
    # A node token may live a year, and not a second (plus the skew) more.
    node = {"typ": "node", "ntp": "User", "sid": None, "iat": now, "exp": now + 365 * 86_400 + 31}
    refused(await target.as_bearer(_with_our_key(target, **node)))


async def test_kidless_hs256_with_the_shared_secret_on_a_new_project(
    make_project: Callable[..., Any],
    client_for: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASTION_SECRET", SHARED_SECRET)
    target = await signed_up(await client_for(make_project(SCHEMA, auth=SIGNUP)))
    # What the server secret signed before signing keys existed: HS256, no kid.
    token = jwt.encode(target.claims, SHARED_SECRET, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(token)
    before = await target.rows()
    refused(await target.as_bearer(token))
    assert await target.rows() == before


# -- request edges (issue 13) ----------------------------------------------------------------


def test_a_forty_megabyte_authorization_header_against_the_real_server(
    serve: Serve,  # noqa: F811 - the fixture of tests/e2e, imported above
    tmp_path: Path,
) -> None:
    root = write_project(tmp_path / "edges", SCHEMA, auth=SIGNUP)
    server = serve(str(root))
    before = rss_bytes(server.process.pid)
    started = time.monotonic()
    answer = post_with_huge_header(server.url, 40_000_000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    # Four at once, 20 MB each: memory stays put, none is read whole.
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post_with_huge_header(server.url, 20_000_000), range(4)))
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answers)
    assert time.monotonic() - started < 10
    assert rss_bytes(server.process.pid) - before < 16_000_000
    assert server.data("{ __typename }") == {"__typename": "Query"}


async def test_a_utf16_body_is_not_read_as_another_request(target: Target) -> None:
    # A front proxy reading UTF-8 sees no query here; Bastion must not see one either.
    raw = json.dumps({"query": 'mutation { createMovie(data: {title: "x"}) { id } }'})
    before = await target.rows()
    for encoded in (raw.encode("utf-16"), raw.encode("utf-16-le"), raw.encode("utf-32-be")):
        response = await target.client.http.post(
            "/graphql", content=encoded, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await target.rows() == before


async def test_require_login_leaks_no_schema_to_anonymous_callers(
    make_project: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    client = await client_for(make_project(SCHEMA, auth={**SIGNUP, "require_login": True}))
    for query in (
        "{ __typename }",
        "query { ...on Query { __schema { types { name } } } }",
        '{ viewer { user { id } } t: __type(name: "Movie") { fields { name } } }',
    ):
        body = await client.gql(query)
        assert "data" not in body, (query, body)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_introspection_does_not_describe_the_audit_log(target: Target) -> None:
    body = await target.client.gql('{ __type(name: "AuditEvent") { fields { name } } }')
    assert body == {"data": {"__type": None}}
    names = await target.client.data("{ __schema { types { name } } }")
    assert "AuditEvent" not in {t["name"] for t in names["__schema"]["types"]}


# -- credential functions (issue 13) ---------------------------------------------------------

COUNTED_PIN = """
from pathlib import Path

from bastion.functions.runtime import FunctionError


def check_pin(event):
    with (Path(__file__).parent / "checks.log").open("a") as log:
        log.write("checked\\n")
    if event.data["pin"] != "4321":
        raise FunctionError("Wrong PIN")
    return True
"""


def test_forty_parallel_guesses_at_a_credential_function(
    serve: Serve,  # noqa: F811 - the fixture of tests/e2e, imported above
    tmp_path: Path,
) -> None:
    check = {
        "handler": "pins:check_pin",
        "credential": True,
        "schema": "extend type Mutation { checkPin(email: String!, pin: String!): Boolean! }",
    }
    # Locked at the fifth failure, so that what is counted cannot depend on the storm's speed
    # (a delay of a second could run out during it on a slow machine).
    throttle = {"delay_after": 5, "lock_after": 5}
    root = write_project(
        tmp_path / "pins", SCHEMA, functions={"checkPin": check}, auth={"throttle": throttle}
    )
    (root / "pins.py").write_text(COUNTED_PIN, encoding="utf-8")
    server = serve(str(root))
    query = 'mutation ($p: String!) { checkPin(email: "ann@example.com", pin: $p) }'

    async def storm() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as http:
            sent = [
                http.post("/graphql", json={"query": query, "variables": {"p": f"{n:04d}"}})
                for n in range(40)
            ]
            return [r.json() for r in await asyncio.gather(*sent)]

    answers = asyncio.run(storm())
    codes = [a["errors"][0]["extensions"]["code"] for a in answers]
    assert set(codes) <= {"BAD_USER_INPUT", "INVALID_CREDENTIALS"}, codes
    # The account's count was taken before each check: five reached the handler, not forty.
    checks = (root / "checks.log").read_text().count("checked")
    assert checks == codes.count("BAD_USER_INPUT") == 5
    body = server.post(query, {"p": "4321"})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
