"""The server secret that signs access tokens.

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


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link, not rename: it fails when the file exists, so two processes starting at
        # once can never end up with different secrets.
        os.link(temp, path)
    finally:
        os.unlink(temp)


def load_secret(data_dir: Path) -> bytes:
    """The signing secret of a project, made on first use."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env is not None:
        return check_secret(from_env.encode(), SECRET_ENV)
    path = data_dir / SECRET_FILE
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            _write_atomically(path, secrets.token_hex(MIN_SECRET_BYTES).encode())
    return check_secret(path.read_bytes().strip(), str(path))
