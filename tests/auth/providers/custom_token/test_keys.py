"""The custom token's key source, resolved at start: each bad setting is refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bastion.errors import ProjectError
from bastion.tools.clock import FrozenClock
from tests.auth.providers.custom_token.conftest import SECRET, pem, verifier


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
