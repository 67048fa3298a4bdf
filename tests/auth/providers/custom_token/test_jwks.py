"""The keys of a JWKS URL, against a real HTTP server: fetched, cached, refetched sparingly,
and never taken from the token itself."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bastion.auth.providers.custom_token import (
    CustomIdentity,
    CustomTokenRefused,
    CustomTokenVerifier,
)
from bastion.tools.clock import FrozenClock
from tests.auth.providers.custom_token.conftest import (
    SECRET,
    b64,
    claims,
    hs256_by_hand,
    jwk,
    refused,
    verifier,
)


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
