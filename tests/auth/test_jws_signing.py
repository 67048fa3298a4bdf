"""The signer makes the tokens PyJWT makes, byte for byte where the algorithm is
deterministic, and PyJWT verifies every one of them."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import jwt
import pytest

from bastion.auth.jws_signing import Signer
from bastion.auth.key_material import ALGORITHMS, SigningKey, generate_key

PAYLOAD = {"iss": "bastion", "sub": "é", "exp": 2_000_000_000, "user_data": {"a": ["\u2028", 1]}}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _reference(key: SigningKey) -> str:
    return jwt.encode(PAYLOAD, key.material, algorithm=key.algorithm, headers={"kid": key.kid})


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_token_is_the_one_pyjwt_makes(algorithm: str) -> None:
    key = generate_key(algorithm, NOW, NOW)  # type: ignore[arg-type]
    signer = Signer()
    tokens = [signer.sign(key, PAYLOAD) for _ in range(2)]  # the second from the prepared key
    for token in tokens:
        assert token.split(".")[:2] == _reference(key).split(".")[:2]
        assert jwt.get_unverified_header(token) == {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
        assert jwt.decode(token, key.verifier, algorithms=[algorithm], audience=None) == PAYLOAD
    if algorithm != "ES256":  # ECDSA signatures are randomised
        assert tokens == [_reference(key)] * 2


def test_a_new_key_under_the_same_kid_is_prepared_again() -> None:
    first = generate_key("EdDSA", NOW, NOW)
    second = generate_key("EdDSA", NOW, NOW)
    same_kid = SigningKey(first.kid, "EdDSA", second.material)
    signer = Signer()
    signer.sign(first, PAYLOAD)
    token = signer.sign(same_kid, PAYLOAD)
    jwt.decode(token, second.verifier, algorithms=["EdDSA"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, first.verifier, algorithms=["EdDSA"])


def test_a_short_secret_is_left_to_pyjwt_and_its_warning() -> None:
    key = SigningKey("k1", "HS256", b"short")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = Signer().sign(key, PAYLOAD)
        assert token == _reference(key)
    assert any("HMAC key" in str(w.message) for w in caught)
