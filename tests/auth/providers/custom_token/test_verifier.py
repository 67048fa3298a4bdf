"""The custom-token verifier against real keys and hostile tokens (its JWKS source:
test_jwks.py; its bad settings: test_keys.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bastion.auth.providers.custom_token import CustomIdentity, CustomTokenRefused
from bastion.tools.clock import FrozenClock
from tests.auth.providers.custom_token.conftest import (
    AUD,
    ISS,
    SECRET,
    b64,
    claims,
    hs256_by_hand,
    jwk,
    pem,
    refused,
    verifier,
)

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


async def test_the_longest_lifetime_is_configurable(clock: FrozenClock) -> None:
    now = int(clock().timestamp())
    week = jwt.encode(claims(clock, exp=now + 7 * 86_400), SECRET)
    await refused(verifier(clock, secret=SECRET), week)  # a day by default
    assert await verifier(clock, secret=SECRET, max_lifetime=7 * 86_400).verify(week)
    assert await verifier(clock, secret=SECRET).verify(
        jwt.encode(claims(clock, exp=now + 86_400 + 30), SECRET)  # a day and the skew
    )
