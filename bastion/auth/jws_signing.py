"""Signing compact JWTs with PyJWT's algorithms, the header made once per key.

``jwt.encode`` rebuilds everything for each token: the header's JSON and its base64, the
algorithm looked up by name, the key prepared and its length checked. Every login and refresh
signs a token with the same key, so :class:`Signer` does that part once per key and signs the
same bytes PyJWT would: ``base64url(header) . base64url(payload) . base64url(signature)``,
the header ``{"alg", "kid", "typ": "JWT"}`` with sorted keys and compact separators, the
payload compact JSON, the signature made by PyJWT's algorithm object for the key.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from jwt.utils import base64url_encode

from bastion.auth.key_material import SigningKey


class _Prepared:
    """One key's header segment, algorithm and prepared key."""

    def __init__(self, key: SigningKey) -> None:
        self.material = key.material
        algorithm = jwt.PyJWS().get_algorithm_by_name(key.algorithm)
        self.algorithm = algorithm
        self.key = algorithm.prepare_key(key.material)
        # A key PyJWT finds too short is left to PyJWT, with its warning or refusal each time.
        self.short = bool(algorithm.check_key_length(self.key))
        header = {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}
        self.header = base64url_encode(json.dumps(header, separators=(",", ":")).encode())


class Signer:
    """Signs payloads with whichever key of a set signs now, each key prepared once."""

    def __init__(self) -> None:
        self._prepared: dict[str, _Prepared] = {}

    def sign(self, key: SigningKey, payload: dict[str, Any]) -> str:
        """The compact JWT of ``payload`` signed by ``key``, as ``jwt.encode`` makes it."""
        prepared = self._prepared.get(key.kid) if key.kid is not None else None
        if prepared is None or prepared.material is not key.material:
            prepared = _Prepared(key)
            if key.kid is not None:
                self._prepared[key.kid] = prepared
        if key.kid is None or prepared.short:
            # The legacy key (no kid) and short keys: PyJWT's own way, its refusals and
            # warnings included.
            return jwt.encode(
                payload, key.material, algorithm=key.algorithm, headers={"kid": key.kid}
            )
        body = base64url_encode(json.dumps(payload, separators=(",", ":")).encode())
        signing_input = prepared.header + b"." + body
        signature = base64url_encode(prepared.algorithm.sign(signing_input, prepared.key))
        return (signing_input + b"." + signature).decode()
