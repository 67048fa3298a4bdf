"""The custom token's key source, resolved at start: an HS256 secret, a PEM public key, a JWKS.

The algorithm follows from the key, never from the token: an HMAC secret verifies HS256 only,
an RSA key the RS and PS families, an EC key the one algorithm of its curve, an Ed25519 or
Ed448 key EdDSA, and a JWKS only asymmetric algorithms. ``algorithms`` in ``bastion.yml`` may
narrow that list, never widen it. Every problem with the configured key stops the start with
a :class:`ProjectError` that names the setting, rather than refusing every login later.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from bastion.auth.key_material import MIN_RSA_BITS
from bastion.auth.secret import MIN_SECRET_BYTES
from bastion.auth.settings import CustomTokenConfig
from bastion.errors import ProjectError

HMAC = "HS256"
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
ASYMMETRIC = (*_RSA, *_EC.values(), "EdDSA")
"""Every algorithm a public key, or a key of a JWKS, may verify."""
WHERE = "bastion.yml: auth.providers.custom-token"
"""The setting every problem of the provider's configuration is reported under."""

PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
)


def algorithms_of(key: object) -> tuple[str, ...]:
    """The algorithms a public key can verify; empty for private keys and other key types."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC:
        return (_EC[key.curve.name],)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return ("EdDSA",)
    return ()


def describe(key: PublicKey) -> str:
    """``an RSA public key``, ``an EC secp256r1 public key``...: for error messages."""
    if isinstance(key, rsa.RSAPublicKey):
        return "an RSA public key"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC {key.curve.name} public key"
    return "an EdDSA public key"


def allowed_algorithms(
    wanted: list[str] | None, fits: tuple[str, ...], what: str, default: tuple[str, ...] | None
) -> tuple[str, ...]:
    """``wanted`` (``config.algorithms``) when every entry fits the key, else a ProjectError.

    Without ``wanted``: ``default``, or every algorithm that ``fits``.
    """
    if wanted is None:
        return default or fits
    wrong = [name for name in wanted if name not in fits]
    if not wanted or wrong:
        raise ProjectError(
            [
                f"{WHERE}.algorithms: {', '.join(wrong) or 'an empty list'} cannot be used "
                f"with {what} (it takes {', '.join(fits)})"
            ]
        )
    return tuple(dict.fromkeys(wanted))


def secret_bytes(text: str, where: str) -> bytes:
    """The HMAC secret as bytes; one shorter than the server's own minimum stops the start."""
    try:
        # surrogateescape gives back the raw bytes of an environment value that is not UTF-8.
        secret = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ProjectError([f"{where}: the secret is not valid text"]) from None
    if len(secret) < MIN_SECRET_BYTES:
        raise ProjectError(
            [
                f"{where}: the secret must be at least {MIN_SECRET_BYTES} bytes "
                f"(got {len(secret)}); a short HMAC key makes tokens forgeable"
            ]
        )
    return secret


def load_public_key(config: CustomTokenConfig, root: Path) -> PublicKey:
    """``public_key`` or ``public_key_file`` (relative to ``root``), checked as a usable key."""
    if config.public_key_file is not None:
        path = root / config.public_key_file
        where = f"{WHERE}.public_key_file ({path})"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ProjectError([f"{where}: file not found"]) from None
        except OSError as error:
            raise ProjectError([f"{where}: cannot read it ({error.strerror})"]) from None
    else:
        assert config.public_key is not None
        where = f"{WHERE}.public_key"
        data = config.public_key.encode("utf-8", "replace")
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        hint = " (this is a private key: give only the public key)" if b"PRIVATE" in data else ""
        raise ProjectError([f"{where}: not a PEM public key{hint}"]) from None
    if not algorithms_of(key):
        raise ProjectError(
            [f"{where}: use an RSA, EC (P-256, P-384, P-521), Ed25519 or Ed448 public key"]
        )
    assert isinstance(key, PublicKey)
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ProjectError(
            [f"{where}: the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed"]
        )
    return key


def check_jwks_url(url: str) -> None:
    """Refuse a ``jwks_url`` keys could be swapped on the way from."""
    # Keys fetched over plain http can be swapped on the way, which forges every login:
    # only https, or http to this machine (a sidecar identity service, tests).
    where = f"{WHERE}.jwks_url"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise ProjectError([f"{where}: not a URL"]) from None
    local = parsed.host in ("localhost", "127.0.0.1", "::1")
    if not parsed.host or not (parsed.scheme == "https" or (parsed.scheme == "http" and local)):
        raise ProjectError([f"{where}: use an https:// URL (plain http only to localhost)"])
