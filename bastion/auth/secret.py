"""The server secret: root tokens and refresh-token successors are derived from it, bound to
the project (:mod:`bastion.auth.derived`), so projects may share one secret.

Access tokens are signed by the signing keys (:mod:`bastion.auth.keys`); the secret still
verifies the tokens it signed before a project had keys, until that legacy key is pruned.

From ``BASTION_SECRET`` when set (every worker of a deployment must share it), else from
``.bastion/secret``, made once with 32 random bytes and written atomically with mode 0600.
A secret shorter than 32 bytes is refused: a short HMAC key makes tokens guessable.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from bastion.errors import ProjectError
from bastion.tools.private_files import write_private_file

SECRET_ENV = "BASTION_SECRET"  # noqa: S105 - a variable name, not a secret
SECRET_FILE = "secret"  # noqa: S105 - a file name
MIN_SECRET_BYTES = 32


def check_secret(secret: bytes, source: str) -> bytes:
    """``secret`` when it is long enough to sign with; raises :class:`ProjectError` otherwise."""
    if len(secret) < MIN_SECRET_BYTES:
        raise ProjectError(
            [f"{source}: the secret must be at least {MIN_SECRET_BYTES} bytes (got {len(secret)})"]
        )
    return secret


def load_secret(data_dir: Path) -> bytes:
    """The server secret of a project, made on first use."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        return check_secret(from_env.encode(), SECRET_ENV)
    path = data_dir / SECRET_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            write_private_file(path, secrets.token_hex(MIN_SECRET_BYTES).encode())
    return check_secret(path.read_bytes().strip(), str(path))
