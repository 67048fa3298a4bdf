"""Files that hold secrets (the server secret, the signing keys): atomic, mode 0600.

A reader never sees half a file: the bytes go to a temporary file beside the target, are
flushed to disk, and the file then takes its name in one step. Temporary names start with a
dot, so code that lists a folder of such files can skip them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private_file(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, readable and writable by the owner only.

    Without ``replace`` the file must not exist yet (:class:`FileExistsError` otherwise): two
    processes making it at once can never end up with different contents. With ``replace``
    an existing file is swapped for the new one in one step.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    try:
        try:
            os.fchmod(fd, PRIVATE_MODE)  # whatever the umask says
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
        else:
            # link, not rename: it fails when the file exists.
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk, so a rename or a new name survives a crash."""
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
