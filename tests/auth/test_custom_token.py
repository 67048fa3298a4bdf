"""The custom-token verifier against real keys, hostile tokens and a real JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bastion.auth.providers.custom_token import CustomTokenRefused, CustomTokenVerifier
from bastion.auth.settings import CustomTokenConfig
from bastion.clock import FrozenClock
from bastion.errors import ProjectError

AUD = "my-app"
SECRET = "x" * 40


def pem(private: Any) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def jwk(private: Any, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.get_default_algorithms()
    name = {rsa.RSAPrivateKey: "RS256", ed25519.Ed25519PrivateKey: "EdDSA"}
    alg = next(v for k, v in name.items() if isinstance(private, k))
    data: dict[str, Any] = json.loads(algorithm[alg].to_jwk(private.public_key()))
    return {**data, "kid": kid, "alg": alg}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(clock: FrozenClock, **extra: Any) -> dict[str, Any]:
    now = int(clock().timestamp())
    payload = {"sub": "u1", "aud": AUD, "iat": now, "exp": now + 600, **extra}
    return {k: v for k, v in payload.items() if v is not None}


def verifier(clock: FrozenClock, tmp_path: Path = Path("."), **config: Any) -> CustomTokenVerifier:
    settings = CustomTokenConfig.model_validate({"enabled": True, "audience": AUD, **config})
    return CustomTokenVerifier(settings, tmp_path, clock)


async def refused(v: CustomTokenVerifier, token: str) -> None:
    with pytest.raises(CustomTokenRefused) as caught:
        await v.verify(token)
    assert caught.value.message == "Invalid custom token"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


async def test_hs256_secret_and_claims(clock: FrozenClock) -> None:
    v = verifier(clock, secret=SECRET, metadata_fields={"email": "email", "firstName": "p.first"})
    token = jwt.encode(
        claims(clock, email="a@b.c", p={"first": "Ann"}, user_data={"plan": "pro"}, aud=[AUD, "x"]),
        SECRET,
    )
    identity = await v.verify(token)
    assert identity.subject == "u1"
    assert identity.fields == {"email": "a@b.c", "firstName": "Ann"}
    assert identity.user_data == {"plan": "pro"}


async def test_secret_env(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_SECRET", SECRET)
    v = verifier(clock, secret_env="IDP_SECRET")
    assert (await v.verify(jwt.encode(claims(clock), SECRET))).subject == "u1"


def hs256_by_hand(payload: dict[str, Any], secret: bytes) -> str:
    """HS256 signed with any bytes (PyJWT refuses a PEM key as HMAC secret: attackers don't)."""
    signing = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    ("private", "alg"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
    ids=["RS256", "ES256", "EdDSA"],
)
async def test_public_keys(clock: FrozenClock, tmp_path: Path, private: Any, alg: str) -> None:
    (tmp_path / "idp.pem").write_text(pem(private))
    v = verifier(clock, tmp_path, public_key_file="idp.pem")
    assert (await v.verify(jwt.encode(claims(clock), private, algorithm=alg))).subject == "u1"
    # HS/RS confusion: an HS256 token signed with the public key's PEM text as the secret.
    await refused(v, hs256_by_hand(claims(clock), pem(private).encode()))
    # The key configured by text works the same.
    inline = verifier(clock, public_key=pem(private))
    assert (await inline.verify(jwt.encode(claims(clock), private, algorithm=alg))).subject


async def test_hostile_tokens(clock: FrozenClock) -> None:
    v = verifier(clock, secret=SECRET, issuer="https://id.example")
    good = claims(clock, iss="https://id.example")
    assert (await v.verify(jwt.encode(good, SECRET))).subject == "u1"
    now = int(clock().timestamp())
    cases = {
        "bad signature": jwt.encode(good, "y" * 40),
        "expired": jwt.encode({**good, "exp": now - 31}, SECRET),
        "wrong aud": jwt.encode({**good, "aud": "other"}, SECRET),
        "no aud": jwt.encode({k: v for k, v in good.items() if k != "aud"}, SECRET),
        "no sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, SECRET),
        "empty sub": jwt.encode({**good, "sub": ""}, SECRET),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET),
        "string exp": jwt.encode({**good, "exp": str(now + 600)}, SECRET),
        "wrong iss": jwt.encode({**good, "iss": "https://evil"}, SECRET),
        "nbf ahead": jwt.encode({**good, "nbf": now + 3600}, SECRET),
        "user_data list": jwt.encode({**good, "user_data": [1]}, SECRET),
        "user_data big": jwt.encode({**good, "user_data": {"x": "y" * 5000}}, SECRET),
        "surrogate": jwt.encode({**good, "name": "\ud800"}, SECRET),
        "too long": jwt.encode({**good, "pad": "z" * 9000}, SECRET),
        "garbage": "a.b",
    }
    for alg in ("none", "None", "NONE", "nOnE"):
        cases[f"alg {alg}"] = f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(good)}."
        cases[f"alg {alg} signed"] = f"{b64({'alg': alg})}.{b64(good)}.c2ln"
    for name, token in cases.items():
        with pytest.raises(CustomTokenRefused):
            await v.verify(token)
            pytest.fail(f"accepted: {name}")


class _Jwks:
    """A real HTTP server serving a JWKS document the test may change; it counts requests."""

    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.status = 200
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = json.dumps(owner.document).encode() if owner.document is not None else b"{"
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks() -> Iterator[_Jwks]:
    server = _Jwks()
    yield server
    server.server.shutdown()


async def test_jwks_cache_rotation_and_kid_flood(clock: FrozenClock, jwks: _Jwks) -> None:
    first = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    second = ed25519.Ed25519PrivateKey.generate()
    jwks.document = {"keys": [jwk(first, "k1"), {"kty": "oct", "k": "c2VjcmV0", "kid": "sym"}]}
    v = verifier(clock, jwks_url=jwks.url, jwks_refresh_interval=600)
    try:
        token = jwt.encode(claims(clock), first, algorithm="RS256", headers={"kid": "k1"})
        assert (await v.verify(token)).subject == "u1"
        assert (await v.verify(token)).subject == "u1"
        assert jwks.requests == 1  # cached
        # The symmetric key of the set is never usable, even with its own secret.
        sym = jwt.encode(claims(clock), "s" * 32, headers={"kid": "sym"})
        await refused(v, sym)
        # Random kids (and hostile ones): at most one refetch per 30 s, however many tokens.
        for kid in [f"r{n}" for n in range(20)] + ["../../etc/passwd", "' OR 1=1 --"]:
            await refused(
                v, jwt.encode(claims(clock), first, algorithm="RS256", headers={"kid": kid})
            )
        assert jwks.requests == 1
        clock.advance(31)
        for n in range(5):
            await refused(
                v, jwt.encode(claims(clock), first, algorithm="RS256", headers={"kid": f"s{n}"})
            )
        assert jwks.requests == 2
        # The identity system rotates: after the refresh interval the new key is fetched.
        jwks.document = {"keys": [jwk(second, "k2")]}
        clock.advance(601)
        rotated = jwt.encode(claims(clock), second, algorithm="EdDSA", headers={"kid": "k2"})
        assert (await v.verify(rotated)).subject == "u1"
        # A jku header pointing elsewhere is never followed.
        other = _Jwks()
        other.document = {"keys": [jwk(first, "evil")]}
        evil = jwt.encode(
            claims(clock), first, algorithm="RS256", headers={"kid": "evil", "jku": other.url}
        )
        await refused(v, evil)
        assert other.requests == 0
        other.server.shutdown()
    finally:
        await v.aclose()


async def test_jwks_failures_refuse(clock: FrozenClock, jwks: _Jwks) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(clock), key, algorithm="RS256", headers={"kid": "k"})
    for status, document in ((500, {"keys": []}), (200, None), (200, {"keys": []})):
        jwks.status, jwks.document = status, document
        v = verifier(clock, jwks_url=jwks.url)
        await refused(v, token)
        await v.aclose()
    down = verifier(clock, jwks_url="http://127.0.0.1:9/jwks.json")
    await refused(down, token)
    await down.aclose()


def test_construction_errors(
    clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    monkeypatch.setenv("SHORT", "abc")
    key = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    for config, message in (
        ({"secret_env": "NOPE"}, "NOPE must hold a secret"),
        ({"secret_env": "SHORT"}, "SHORT must hold a secret"),
        ({"public_key": "not a key"}, "not a PEM public key"),
        ({"public_key_file": "missing.pem"}, "not found"),
        ({"public_key": key, "algorithms": ["HS256"]}, "HS256 cannot be used"),
    ):
        with pytest.raises(ProjectError, match=message):
            verifier(clock, tmp_path, **config)
