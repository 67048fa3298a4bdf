"""The custom-token verifier against real keys, hostile tokens and a real JWKS server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bastion.auth.providers.custom_token import (
    CustomIdentity,
    CustomTokenRefused,
    CustomTokenVerifier,
)
from bastion.auth.settings import CustomTokenConfig
from bastion.errors import Code, ProjectError
from bastion.tools.clock import FrozenClock

AUD = "my-app"
ISS = "https://id.example"
SECRET = "x" * 40


# -- keys and tokens -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def pem(private: Any) -> str:
    """The SubjectPublicKeyInfo PEM of a private key's public half."""
    data: bytes = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data.decode()


def jwk(private: Any, kid: str | None, alg: str) -> dict[str, Any]:
    """The public JWK of a private key, as an identity system would publish it."""
    algorithm = jwt.get_algorithm_by_name(alg)
    data: dict[str, Any] = algorithm.to_jwk(private.public_key(), as_dict=True)
    return {**data, "alg": alg, "use": "sig", **({"kid": kid} if kid else {})}


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(clock: FrozenClock, **extra: Any) -> dict[str, Any]:
    """Valid claims for ``clock``'s now; a keyword set to None removes that claim."""
    now = int(clock().timestamp())
    payload = {"sub": "u1", "aud": AUD, "iat": now, "exp": now + 600, **extra}
    return {k: v for k, v in payload.items() if v is not None}


def hs256_by_hand(
    header: dict[str, Any], payload: Any, secret: bytes, digest: str = "sha256"
) -> str:
    """An HMAC token signed with any bytes (PyJWT refuses a PEM as secret; attackers don't)."""
    signing = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret, signing.encode(), getattr(hashlib, digest)).digest()
    return f"{signing}.{b64(mac)}"


def verifier(
    clock: FrozenClock, root: Path = Path("."), http: httpx.AsyncClient | None = None, **config: Any
) -> CustomTokenVerifier:
    settings = CustomTokenConfig.model_validate({"enabled": True, "audience": AUD, **config})
    return CustomTokenVerifier(settings, root, clock, http)


async def refused(v: CustomTokenVerifier, token: str) -> CustomTokenRefused:
    """Assert the token is refused with the one message and code (and no other exception)."""
    with pytest.raises(CustomTokenRefused) as caught:
        await v.verify(token)
    assert caught.value.message == "Invalid custom token"
    assert caught.value.code == Code.INVALID_CREDENTIALS
    assert caught.value.reason
    return caught.value


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


# -- accepted ----------------------------------------------------------------------------------


async def test_hs256_secret_with_metadata_user_data_and_aud_list(clock: FrozenClock) -> None:
    v = verifier(
        clock,
        secret=SECRET,
        metadata_fields={
            "email": "email",
            "firstName": "user_data.first",
            "age": "user_data.age",
            "vip": "vip",
            "nothing": "missing.path",
            "objectSkipped": "user_data",
            "nullSkipped": "gone",
            "listSkipped": "roles",
        },
    )
    token = jwt.encode(
        claims(
            clock,
            email="a@b.c",
            vip=True,
            gone=None,
            roles=["admin"],
            user_data={"first": "Ann", "age": 41},
            aud=["other-app", AUD],
        ),
        SECRET,
    )
    identity = await v.verify(token)
    assert identity == CustomIdentity(
        subject="u1",
        fields={"email": "a@b.c", "firstName": "Ann", "age": 41, "vip": True},
        user_data={"first": "Ann", "age": 41},
    )
    # Without user_data the identity says None.
    assert (await v.verify(jwt.encode(claims(clock), SECRET))).user_data is None


async def test_secret_env(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_SECRET", SECRET)
    v = verifier(clock, secret_env="IDP_SECRET")
    assert (await v.verify(jwt.encode(claims(clock), SECRET))).subject == "u1"
    await refused(v, jwt.encode(claims(clock), "y" * 40))


KEY_MAKERS: dict[str, Any] = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ES384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ES512": lambda: ec.generate_private_key(ec.SECP521R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("alg", list(KEY_MAKERS))
async def test_pem_public_keys(clock: FrozenClock, tmp_path: Path, alg: str) -> None:
    private, stranger = KEY_MAKERS[alg](), KEY_MAKERS[alg]()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "idp.pem").write_text(pem(private))
    from_file = verifier(clock, tmp_path, public_key_file="keys/idp.pem")
    inline = verifier(clock, public_key=pem(private))
    for v in (from_file, inline):
        assert (await v.verify(jwt.encode(claims(clock), private, algorithm=alg))).subject == "u1"
        # Another key of the same type: bad signature.
        await refused(v, jwt.encode(claims(clock), stranger, algorithm=alg))
        # HS/RS confusion: an HS256 token signed with the public PEM text as HMAC secret.
        for secret in (pem(private).encode(), pem(private).strip().encode()):
            await refused(v, hs256_by_hand({"alg": "HS256", "typ": "JWT"}, claims(clock), secret))
        # HS256 at all, whatever the secret.
        await refused(v, jwt.encode(claims(clock), SECRET))


async def test_rsa_algorithms_pinned_and_widened(
    clock: FrozenClock, rsa_key: rsa.RSAPrivateKey
) -> None:
    default = verifier(clock, public_key=pem(rsa_key))
    assert await default.verify(jwt.encode(claims(clock), rsa_key, algorithm="RS256"))
    # Only RS256 unless the config widens it.
    await refused(default, jwt.encode(claims(clock), rsa_key, algorithm="PS256"))
    await refused(default, jwt.encode(claims(clock), rsa_key, algorithm="RS512"))
    wide = verifier(clock, public_key=pem(rsa_key), algorithms=["PS256", "RS512"])
    assert await wide.verify(jwt.encode(claims(clock), rsa_key, algorithm="PS256"))
    assert await wide.verify(jwt.encode(claims(clock), rsa_key, algorithm="RS512"))
    await refused(wide, jwt.encode(claims(clock), rsa_key, algorithm="RS256"))


# -- refused -------------------------------------------------------------------------------------


def hostile_tokens(clock: FrozenClock) -> dict[str, str]:
    """Tokens a verifier with SECRET and issuer ISS must refuse, by name."""
    good = claims(clock, iss=ISS)
    now = int(clock().timestamp())
    deep = b"[" * 2400 + b"]" * 2400  # within 8 KB once encoded, deeper than recursion likes

    def signed(**change: Any) -> str:
        return jwt.encode({**good, **change}, SECRET)

    def without(claim: str) -> str:
        return jwt.encode({k: v for k, v in good.items() if k != claim}, SECRET)

    cases = {
        "bad signature": jwt.encode(good, "y" * 40),
        "signature of another token": (
            signed().rsplit(".", 1)[0] + "." + signed(sub="u2").rsplit(".", 1)[1]
        ),
        "expired": signed(exp=now - 31),
        "wrong aud": signed(aud="other-app"),
        "aud list without us": signed(aud=["a", "b"]),
        "aud empty list": signed(aud=[]),
        "aud number": signed(aud=5),
        "missing aud": without("aud"),
        "missing sub": without("sub"),
        "empty sub": signed(sub=""),
        "numeric sub": signed(sub=42),
        "sub too long": signed(sub="s" * 256),
        "missing exp": without("exp"),
        "string exp": signed(exp=str(now + 600)),
        "bool exp": signed(exp=True),
        "infinite exp": signed(exp=float("inf")),
        "NaN exp": signed(exp=float("nan")),
        "missing iss": without("iss"),
        "wrong iss": signed(iss="https://evil.example"),
        "nbf in the future": signed(nbf=now + 3600),
        "nbf beyond the skew": signed(nbf=now + 31),
        "exp over a day after iat": signed(exp=now + 86_400 + 31),
        "exp over a day away, no iat": jwt.encode(
            {k: v for k, v in {**good, "exp": now + 86_400 + 31}.items() if k != "iat"}, SECRET
        ),
        "string nbf": signed(nbf="0"),
        "iat in the future": signed(iat=now + 3600),
        "string iat": signed(iat="0"),
        "user_data list": signed(user_data=[1, 2]),
        "user_data string": signed(user_data="{}"),
        "user_data null": signed(user_data=None),
        "user_data too big": signed(user_data={"x": "y" * 4100}),
        "lone surrogate": signed(name="\ud800"),
        "lone surrogate nested key": signed(user_data={"a": [{"\udfff": 1}]}),
        "NaN nested": signed(user_data={"score": float("nan")}),
        "9 KB": signed(pad="z" * 9000),
        "header not an object": f"{b64([1])}.{b64(good)}.c2ln",
        "header not JSON": f"{b64(b'{oops')}.{b64(good)}.c2ln",
        "payload not JSON": hs256_by_hand({"alg": "HS256"}, b"[1,2", SECRET.encode()),
        "payload an array": hs256_by_hand({"alg": "HS256"}, [good], SECRET.encode()),
        "deeply nested claim": hs256_by_hand(
            {"alg": "HS256"},
            json.dumps(good)[:-1].encode() + b', "user_data": {"a": ' + deep + b"}}",
            SECRET.encode(),
        ),
        "HS512 with our secret": hs256_by_hand({"alg": "HS512"}, good, SECRET.encode(), "sha512"),
        "b64 false": hs256_by_hand({"alg": "HS256", "b64": False}, good, SECRET.encode()),
        "b64 false, crit": hs256_by_hand(
            {"alg": "HS256", "b64": False, "crit": ["b64"]}, good, SECRET.encode()
        ),
        "crit unknown": jwt.encode(good, SECRET, headers={"crit": ["exp2"], "exp2": 1}),
    }
    for garbage in ("", "a", "a.b", "a.b.c", "...", "a..c", "é.é.é", "a.b.c.d", "\x00.\x00.\x00"):
        cases[f"garbage {garbage!r}"] = garbage
    for alg in ("none", "None", "NONE", "nOnE"):
        # By hand: PyJWT would not make these. With an empty signature and with one.
        cases[f"alg {alg}"] = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(good)}."
        cases[f"alg {alg} signed"] = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(good)}.c2ln"
    return cases


async def test_hostile_tokens_are_refused(clock: FrozenClock) -> None:
    v = verifier(clock, secret=SECRET, issuer=ISS)
    assert (await v.verify(jwt.encode(claims(clock, iss=ISS), SECRET))).subject == "u1"
    accepted = []
    for name, token in hostile_tokens(clock).items():
        try:
            await v.verify(token)
        except CustomTokenRefused as refusal:
            assert refusal.message == "Invalid custom token", name
            assert len(token) < 20 or token not in refusal.reason, name
        else:
            accepted.append(name)
    assert accepted == []


async def test_time_uses_the_injected_clock_with_leeway(clock: FrozenClock) -> None:
    v = verifier(clock, secret=SECRET)
    now = int(clock().timestamp())
    token = jwt.encode(claims(clock, exp=now + 100, nbf=now + 20, iat=now + 20), SECRET)
    assert await v.verify(token)  # nbf and iat 20 s ahead: within the 30 s of skew
    clock.advance(129)
    assert await v.verify(token)  # exp passed 29 s ago: still within the leeway
    clock.advance(1)
    await refused(v, token)  # exp + 30 reached
    # A float exp is a number too.
    assert await v.verify(jwt.encode(claims(clock, exp=clock().timestamp() + 10.5), SECRET))


async def test_user_data_at_the_size_limit(clock: FrozenClock) -> None:
    v = verifier(clock, secret=SECRET)
    overhead = len(json.dumps({"x": ""}))
    fits = {"x": "y" * (4096 - overhead)}
    assert (await v.verify(jwt.encode(claims(clock, user_data=fits), SECRET))).user_data == fits
    too_big = {"x": "y" * (4097 - overhead)}
    await refused(v, jwt.encode(claims(clock, user_data=too_big), SECRET))


async def test_embedded_jwk_and_kid_tricks_with_a_pem_key(
    clock: FrozenClock, rsa_key: rsa.RSAPrivateKey, attacker_key: rsa.RSAPrivateKey
) -> None:
    v = verifier(clock, public_key=pem(rsa_key))
    # The attacker signs with their key and embeds it (jwk) or points at it (x5u, jku).
    embedded = jwt.encode(
        claims(clock),
        attacker_key,
        algorithm="RS256",
        headers={"jwk": jwk(attacker_key, "evil", "RS256"), "x5u": "https://evil/x", "kid": "e"},
    )
    await refused(v, embedded)
    # kid only selects among keys we hold: with one PEM key it changes nothing.
    for kid in ("../../etc/passwd", "' OR 1=1 --", "\u0000", "k" * 3000):
        assert await v.verify(
            jwt.encode(claims(clock), rsa_key, algorithm="RS256", headers={"kid": kid})
        )
    # A kid that is not a string is malformed.
    await refused(
        v,
        f"{b64({'alg': 'RS256', 'kid': 7})}.{b64(claims(clock))}."
        + jwt.encode(claims(clock), rsa_key, algorithm="RS256").rsplit(".", 1)[1],
    )


# -- JWKS against a real HTTP server -------------------------------------------------------------


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS the test may replace; counts requests."""

    def __init__(self) -> None:
        self.body: bytes = b'{"keys": []}'
        self.status = 200
        self.requests = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with owner._lock:
                    owner.requests += 1
                    status, body = owner.status, owner.body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def serve(self, keys: list[dict[str, Any]] | Any, status: int = 200) -> None:
        with self._lock:
            self.body = json.dumps({"keys": keys} if isinstance(keys, list) else keys).encode()
            self.status = status

    def serve_raw(self, body: bytes, status: int = 200) -> None:
        with self._lock:
            self.body, self.status = body, status

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


@pytest.fixture
async def jwks_verifier(clock: FrozenClock, jwks: JwksServer) -> AsyncIterator[CustomTokenVerifier]:
    v = verifier(clock, jwks_url=jwks.url, jwks_refresh_interval=600)
    yield v
    await v.aclose()


def rs256(clock: FrozenClock, key: Any, kid: str | None, **headers: Any) -> str:
    return jwt.encode(
        claims(clock),
        key,
        algorithm="RS256",
        headers={**headers, **({"kid": kid} if kid else {})},
    )


async def test_jwks_rs256_and_eddsa_keys_cached(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256"), jwk(ed_key, "e1", "EdDSA")])
    assert jwks.requests == 0  # construction fetches nothing
    assert (await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))).subject == "u1"
    eddsa = jwt.encode(claims(clock), ed_key, algorithm="EdDSA", headers={"kid": "e1"})
    assert (await jwks_verifier.verify(eddsa)).subject == "u1"
    assert jwks.requests == 1  # cached
    # The kid selects the key and the key fixes the algorithm: r1's key does not take EdDSA.
    wrong = jwt.encode(claims(clock), ed_key, algorithm="EdDSA", headers={"kid": "r1"})
    await refused(jwks_verifier, wrong)
    # No kid with two keys in the set: ambiguous, refused.
    await refused(jwks_verifier, rs256(clock, rsa_key, None))
    clock.advance(599)
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    assert jwks.requests == 1


async def test_jwks_without_kid_uses_the_only_key(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, None, "RS256")])
    assert await jwks_verifier.verify(rs256(clock, rsa_key, None))


async def test_jwks_refreshed_after_the_interval_and_rotated_key_works(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    jwks.serve([jwk(ed_key, "e2", "EdDSA")])  # rotation: r1 is gone, e2 is new
    clock.advance(600)
    rotated = jwt.encode(claims(clock), ed_key, algorithm="EdDSA", headers={"kid": "e2"})
    assert await jwks_verifier.verify(rotated)
    assert jwks.requests == 2
    await refused(jwks_verifier, rs256(clock, rsa_key, "r1"))  # the retired key is refused


async def test_jwks_unknown_kid_refetches_once_and_a_flood_does_not(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    attacker_key: rsa.RSAPrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    assert jwks.requests == 1
    clock.advance(31)
    # A key added by the identity system is picked up by its first token.
    jwks.serve([jwk(rsa_key, "r1", "RS256"), jwk(attacker_key, "r2", "RS256")])
    assert await jwks_verifier.verify(rs256(clock, attacker_key, "r2"))
    assert jwks.requests == 2
    clock.advance(31)
    # 20 random kids within 30 s: at most one extra fetch, every token refused.
    for n in range(20):
        await refused(jwks_verifier, rs256(clock, rsa_key, f"random-{n}"))
        clock.advance(1)
    assert jwks.requests == 3
    # Hostile kids are only compared with ours: refused, no crash, no fetch within 30 s.
    for kid in ("../../etc/passwd", "' OR 1=1; DROP TABLE users; --", "%00", "r1\x00"):
        await refused(jwks_verifier, rs256(clock, rsa_key, kid))
    assert jwks.requests == 3
    # Known keys keep working meanwhile.
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))


async def test_jwks_concurrent_verifications_fetch_once(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    results = await asyncio.gather(
        *(jwks_verifier.verify(rs256(clock, rsa_key, "r1")) for _ in range(10)),
        *(jwks_verifier.verify(rs256(clock, rsa_key, f"x{n}")) for n in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(r, CustomIdentity) for r in results[:10])
    assert all(isinstance(r, CustomTokenRefused) for r in results[10:])
    assert jwks.requests == 1


async def test_jwks_jku_and_embedded_jwk_are_ignored(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
    attacker_key: rsa.RSAPrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    evil_server = JwksServer()
    try:
        evil_server.serve([jwk(attacker_key, "evil", "RS256")])
        for kid in ("evil", "r1"):
            await refused(jwks_verifier, rs256(clock, attacker_key, kid, jku=evil_server.url))
            await refused(jwks_verifier, rs256(clock, attacker_key, kid, x5u=evil_server.url))
        embedded = rs256(clock, attacker_key, "evil", jwk=jwk(attacker_key, "evil", "RS256"))
        await refused(jwks_verifier, embedded)
        assert evil_server.requests == 0
    finally:
        evil_server.close()


async def test_jwks_symmetric_and_unfit_keys_are_not_usable(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    secret_b64 = b64(SECRET.encode())
    jwks.serve(
        [
            jwk(rsa_key, "r1", "RS256"),
            {"kty": "oct", "k": secret_b64, "kid": "sym"},
            {"kty": "oct", "k": secret_b64, "kid": "sym-rs", "alg": "RS256"},
            {**jwk(rsa_key, "none", "RS256"), "alg": "none"},
            {**jwk(rsa_key, "enc", "RS256"), "use": "enc"},
        ]
    )
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    await refused(jwks_verifier, jwt.encode(claims(clock), SECRET, headers={"kid": "sym"}))
    forged = hs256_by_hand({"alg": "RS256", "kid": "sym-rs"}, claims(clock), SECRET.encode())
    await refused(jwks_verifier, forged)
    await refused(jwks_verifier, rs256(clock, rsa_key, "enc"))
    none = f"{b64({'alg': 'none', 'kid': 'none'})}.{b64(claims(clock))}.c2ln"
    await refused(jwks_verifier, none)


@pytest.mark.parametrize(
    "answer",
    [
        "HTTP 500",
        "HTTP 404",
        "invalid JSON",
        "JSON array",
        "no keys",
        "keys not a list",
        "only an oct key",
        "only an alg none key",
        "only a private key",
        "too large",
        "server down",
    ],
)
async def test_jwks_failures_refuse_and_log(
    clock: FrozenClock,
    jwks: JwksServer,
    rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
    answer: str,
) -> None:
    good = [jwk(rsa_key, "r1", "RS256")]
    private = jwt.get_algorithm_by_name("RS256").to_jwk(rsa_key, as_dict=True)
    url = jwks.url
    match answer:
        case "HTTP 500":
            jwks.serve(good, status=500)
        case "HTTP 404":
            jwks.serve(good, status=404)
        case "invalid JSON":
            jwks.serve_raw(b'{"keys": [')
        case "JSON array":
            jwks.serve_raw(b"[1, 2]")
        case "no keys":
            jwks.serve([])
        case "keys not a list":
            jwks.serve({"keys": {"r1": good[0]}})
        case "only an oct key":
            jwks.serve([{"kty": "oct", "k": b64(SECRET.encode()), "kid": "r1"}])
        case "only an alg none key":
            jwks.serve([{**good[0], "alg": "none"}])
        case "only a private key":
            jwks.serve([{**private, "kid": "r1", "alg": "RS256"}])
        case "too large":
            jwks.serve_raw(json.dumps({"keys": good, "pad": "p" * 600_000}).encode())
        case "server down":
            with socket.socket() as unused:
                unused.bind(("127.0.0.1", 0))
                url = f"http://127.0.0.1:{unused.getsockname()[1]}/jwks.json"
    v = verifier(clock, jwks_url=url)
    token = rs256(clock, rsa_key, "r1")
    with caplog.at_level(logging.WARNING, logger="bastion.auth"):
        await refused(v, token)
        await refused(v, token)  # within 30 s of the failure: refused without a new fetch
    await v.aclose()
    assert jwks.requests <= 1
    warnings = [r for r in caplog.records if r.name == "bastion.auth"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text


async def test_jwks_failure_keeps_the_previous_set(
    clock: FrozenClock,
    jwks: JwksServer,
    jwks_verifier: CustomTokenVerifier,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    jwks.serve_raw(b"oops", status=500)
    clock.advance(31)
    await refused(jwks_verifier, rs256(clock, rsa_key, "new"))  # refetch fails
    assert jwks.requests == 2
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))  # the set is kept
    # Once stale, a key must come from a fresh set: the outage refuses, then recovery works.
    clock.advance(600)
    await refused(jwks_verifier, rs256(clock, rsa_key, "r1"))
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    await refused(jwks_verifier, rs256(clock, rsa_key, "r1"))  # no retry within 30 s
    assert jwks.requests == 3
    clock.advance(30)
    assert await jwks_verifier.verify(rs256(clock, rsa_key, "r1"))
    assert jwks.requests == 4


async def test_jwks_algorithms_filter_keys(
    clock: FrozenClock, jwks: JwksServer, rsa_key: rsa.RSAPrivateKey, ed_key: Any
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256"), jwk(ed_key, "e1", "EdDSA")])
    v = verifier(clock, jwks_url=jwks.url, algorithms=["EdDSA"])
    try:
        eddsa = jwt.encode(claims(clock), ed_key, algorithm="EdDSA", headers={"kid": "e1"})
        assert await v.verify(eddsa)
        await refused(v, rs256(clock, rsa_key, "r1"))
    finally:
        await v.aclose()


async def test_a_given_http_client_is_used_and_not_closed(
    clock: FrozenClock, jwks: JwksServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    jwks.serve([jwk(rsa_key, "r1", "RS256")])
    async with httpx.AsyncClient() as http:
        v = verifier(clock, http=http, jwks_url=jwks.url)
        assert await v.verify(rs256(clock, rsa_key, "r1"))
        await v.aclose()
        assert not http.is_closed


# -- construction errors ----------------------------------------------------------------------


def test_construction_errors(
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.setenv("SHORT_SECRET", "abc")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    (tmp_path / "dir.pem").mkdir()
    ec_pem = pem(ec.generate_private_key(ec.SECP256R1()))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"secret_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE is not set"),
        ({"secret_env": "SHORT_SECRET"}, "at least 32 bytes \\(got 3\\)"),
        ({"public_key": "not a key"}, "public_key: not a PEM public key$"),
        ({"public_key": private_pem}, "private key: give only the public key"),
        ({"public_key_file": "missing.pem"}, "missing.pem\\): file not found"),
        ({"public_key_file": "dir.pem"}, "dir.pem\\): cannot read it"),
        ({"public_key": pem(weak)}, "1024 bits; at least 2048"),
        ({"public_key": pem(rsa_key), "algorithms": ["HS256"]}, "HS256 cannot be used with an RSA"),
        ({"public_key": pem(rsa_key), "algorithms": ["ES256"]}, "ES256 cannot be used with an RSA"),
        ({"public_key": ec_pem, "algorithms": ["ES384"]}, "ES384 cannot be used with an EC"),
        ({"public_key": pem(rsa_key), "algorithms": ["FOO"]}, "FOO cannot be used"),
        ({"public_key": pem(rsa_key), "algorithms": []}, "an empty list cannot be used"),
        ({"secret": SECRET, "algorithms": ["RS256"]}, "RS256 cannot be used with an HS256"),
        ({"jwks_url": "http://127.0.0.1:1/j", "algorithms": ["HS256"]}, "HS256 cannot be used"),
        ({"jwks_url": "http://id.example/jwks"}, "use an https:// URL"),
        ({"jwks_url": "file:///etc/passwd"}, "use an https:// URL"),
    ]
    for config, message in cases:
        with pytest.raises(ProjectError, match=message) as caught:
            verifier(clock, tmp_path, **config)
        assert len(caught.value.problems) == 1
        assert caught.value.problems[0].startswith("bastion.yml: auth.providers.custom-token")
        assert "\n" not in caught.value.problems[0]
        assert SECRET not in caught.value.problems[0]
    # These are fine: https anywhere, http to this machine.
    verifier(clock, jwks_url="https://id.example/.well-known/jwks.json")
    verifier(clock, jwks_url="http://localhost:8080/jwks")
    verifier(clock, public_key=pem(rsa_key), algorithms=["RS256", "PS512"])


async def test_the_longest_lifetime_is_configurable(clock: FrozenClock) -> None:
    now = int(clock().timestamp())
    week = jwt.encode(claims(clock, exp=now + 7 * 86_400), SECRET)
    await refused(verifier(clock, secret=SECRET), week)  # a day by default
    assert await verifier(clock, secret=SECRET, max_lifetime=7 * 86_400).verify(week)
    assert await verifier(clock, secret=SECRET).verify(
        jwt.encode(claims(clock, exp=now + 86_400 + 30), SECRET)  # a day and the skew
    )
