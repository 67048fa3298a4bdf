"""One signing key: made, turned into bytes (to seal) and back, read from a key file of the
old folder or from a JWK, published as a JWK.

The cryptography is ``cryptography``'s and the JWK shapes are PyJWT's (``to_jwk``,
``PyJWK``); this module only chooses the parameters (Ed25519, P-256, RSA-3072 with e=65537,
32-byte HMAC secrets), checks that a key read back fits its algorithm, and makes sure a
published JWK holds public parameters only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from bastion.auth.settings import SigningAlgorithm
from bastion.errors import ProjectError

ALGORITHMS: tuple[SigningAlgorithm, ...] = get_args(SigningAlgorithm)
KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
RSA_BITS = 3072  # NIST SP 800-57: 2048 bits are fine until 2030, 3072 beyond
MIN_RSA_BITS = 2048  # PyJWT's floor (enforce_minimum_key_length), for any RSA key we trust
HMAC_BYTES = 32

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# What a published JWK may hold besides kid/alg/use: never d, p, q, dp, dq, qi or k.
_PUBLIC_PARAMETERS = ("kty", "crv", "x", "y", "n", "e")


@dataclass(frozen=True)
class SigningKey:
    """A key of the set: its kid, its one algorithm, its material and its dates.

    ``kid`` is None only for the legacy key (the server secret, for the tokens signed before
    the project had keys, which carry no kid). The dates are None for keys from the
    environment, which the operator rotates by hand.
    """

    kid: str | None
    algorithm: SigningAlgorithm
    material: PrivateKey | bytes = field(repr=False)  # never printed, never logged
    created_at: datetime | None = None
    activates_at: datetime | None = None  # signs from then on (published before)
    retired_at: datetime | None = None  # a newer key took over signing then

    @property
    def verifier(self) -> PublicKey | bytes:
        """What verifies this key's signatures: the public key, or the HMAC secret."""
        if isinstance(self.material, bytes):
            return self.material
        return self.material.public_key()

    def public_jwk(self) -> dict[str, str] | None:
        """The public JWK of an asymmetric key (kty, crv/x/y or n/e, kid, alg, use); None for
        HMAC keys, whose secret is never published."""
        if isinstance(self.material, bytes) or self.kid is None:
            return None
        public = self.material.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            full = OKPAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            full = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            full = RSAAlgorithm.to_jwk(public, as_dict=True)
        jwk = {name: str(full[name]) for name in _PUBLIC_PARAMETERS if name in full}
        jwk.update(kid=self.kid, alg=self.algorithm, use="sig")
        return jwk


def new_kid() -> str:
    """A random, URL-safe key id (96 bits)."""
    return secrets.token_urlsafe(12)


def generate_key(
    algorithm: SigningAlgorithm, created_at: datetime, activates_at: datetime
) -> SigningKey:
    """A new key with a new kid."""
    material: PrivateKey | bytes
    if algorithm == "EdDSA":
        material = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ES256":
        material = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "RS256":
        material = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        material = secrets.token_bytes(HMAC_BYTES)
    return SigningKey(new_kid(), algorithm, material, created_at, activates_at)


def check_material(algorithm: str, material: object, where: str) -> SigningAlgorithm:
    """``algorithm`` when ``material`` is a private key (or secret) that signs with it."""
    fits = {
        "EdDSA": isinstance(material, ed25519.Ed25519PrivateKey),
        "ES256": isinstance(material, ec.EllipticCurvePrivateKey)
        and material.curve.name == "secp256r1",
        "RS256": isinstance(material, rsa.RSAPrivateKey),
        "HS256": isinstance(material, bytes),
    }
    if algorithm not in fits:
        raise ProjectError([f"{where}: algorithm must be one of {', '.join(ALGORITHMS)}"])
    if not fits[algorithm]:
        raise ProjectError([f"{where}: the key is not a private key for {algorithm}"])
    if isinstance(material, rsa.RSAPrivateKey) and material.key_size < MIN_RSA_BITS:
        raise ProjectError([f"{where}: the RSA key has {material.key_size} bits (at least 2048)"])
    if isinstance(material, bytes) and len(material) < HMAC_BYTES:
        raise ProjectError([f"{where}: the HMAC secret must be at least {HMAC_BYTES} bytes"])
    return next(name for name in ALGORITHMS if name == algorithm)


# -- private bytes (sealed in the database: bastion.auth.key_store) ----------------------


def private_bytes(key: SigningKey) -> bytes:
    """The private part of ``key`` as bytes: PKCS #8 DER, or the HMAC secret itself."""
    if isinstance(key.material, bytes):
        return key.material
    return key.material.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def material_from_bytes(
    algorithm: str, data: bytes, where: str
) -> tuple[SigningAlgorithm, PrivateKey | bytes]:
    """The algorithm and the private key (or secret) ``data`` holds, checked to fit."""
    material: PrivateKey | bytes = data
    if algorithm != "HS256":
        try:
            loaded = serialization.load_der_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ProjectError([f"{where}: the key cannot be read"]) from None
        if not isinstance(loaded, PrivateKey):
            raise ProjectError([f"{where}: not an Ed25519, EC or RSA private key"])
        material = loaded
    return check_material(algorithm, material, where), material


# -- key files of the folder that held the keys before the database ----------------------


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def key_file_bytes(key: SigningKey) -> bytes:
    """The content of a key's file: JSON with the kid, the dates and the private key."""
    document: dict[str, Any] = {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "created": _when(key.created_at),
        "activates": _when(key.activates_at),
        "retired": _when(key.retired_at),
    }
    if isinstance(key.material, bytes):
        document["secret"] = base64.urlsafe_b64encode(key.material).decode()
    else:
        document["private_key"] = key.material.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return json.dumps(document, indent=2).encode() + b"\n"


def parse_time(value: object, where: str, name: str) -> datetime | None:
    """An ISO 8601 time with its offset (or None) from a key file."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ProjectError([f"{where}: {name} is not a time with an offset"])
    return moment


def read_key_file(data: bytes, where: str) -> SigningKey:
    """The key a key file holds; a :class:`ProjectError` naming ``where`` otherwise."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise ProjectError([f"{where}: not a key file (not JSON)"]) from None
    if not isinstance(document, dict):
        raise ProjectError([f"{where}: not a key file"])
    kid, algorithm = document.get("kid"), document.get("algorithm")
    if not isinstance(kid, str) or not KID.fullmatch(kid):
        raise ProjectError([f"{where}: kid must be 1 to 64 letters, digits, - or _"])
    material: PrivateKey | bytes
    try:
        if "secret" in document:
            material = base64.urlsafe_b64decode(str(document["secret"]).encode())
        else:
            loaded = serialization.load_pem_private_key(
                str(document.get("private_key", "")).encode(), password=None
            )
            if not isinstance(loaded, PrivateKey):
                raise ProjectError([f"{where}: not an Ed25519, EC or RSA private key"])
            material = loaded
    except (ValueError, TypeError, binascii.Error, UnsupportedAlgorithm):
        raise ProjectError([f"{where}: the key cannot be read"]) from None
    return SigningKey(
        kid=kid,
        algorithm=check_material(str(algorithm), material, where),
        material=material,
        created_at=parse_time(document.get("created"), where, "created"),
        activates_at=parse_time(document.get("activates"), where, "activates"),
        retired_at=parse_time(document.get("retired"), where, "retired"),
    )


# -- keys from the environment -----------------------------------------------------------


def keys_from_jwks(text: str, where: str) -> list[SigningKey]:
    """The keys of a JWK set with private keys, in its order; each needs a kid and an alg."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ProjectError([f"{where}: not JSON"]) from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ProjectError([f'{where}: expected a JWK set: {{"keys": [...]}} with a key'])
    keys: list[SigningKey] = []
    for index, entry in enumerate(entries):
        place = f"{where}: keys[{index}]"
        if not isinstance(entry, dict):
            raise ProjectError([f"{place}: not a JWK"])
        kid, algorithm = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or not KID.fullmatch(kid):
            raise ProjectError([f"{place}: kid must be 1 to 64 letters, digits, - or _"])
        if algorithm not in ALGORITHMS:
            raise ProjectError([f"{place}: alg must be one of {', '.join(ALGORITHMS)}"])
        if not ("k" in entry if entry.get("kty") == "oct" else "d" in entry):
            raise ProjectError([f"{place}: a signing key needs its private part"])
        try:
            material = jwt.PyJWK(entry).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise ProjectError([f"{place}: not a usable JWK"]) from None
        checked = check_material(str(algorithm), material, place)
        if any(key.kid == kid for key in keys):
            raise ProjectError([f"{place}: kid {kid!r} is used twice"])
        keys.append(SigningKey(kid, checked, material))
    return keys
