"""Keys, tokens and a verifier of the custom-token tests: an identity system's keys, the claims
it signs, and the verifier a project's settings make."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bastion.auth.providers.custom_token import CustomTokenRefused, CustomTokenVerifier
from bastion.auth.settings import CustomTokenConfig
from bastion.errors import Code
from bastion.tools.clock import FrozenClock

AUD = "my-app"
ISS = "https://id.example"
SECRET = "x" * 40


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
