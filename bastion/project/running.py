"""Whether a server runs on a project: a lock file each serving process holds.

Every ``bastion serve`` process (each worker) holds a shared ``flock`` on
``.bastion/serve.lock`` while it serves. ``bastion restore`` takes it exclusively, without
waiting: it fails while any server runs, and a server cannot start while a restore runs. The
kernel drops the lock when a process ends, however it ends, so a crash leaves no stale lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bastion.project.causes import EnvironmentRefused
from bastion.tools.private_files import create_private_file

LOCK_FILE = "serve.lock"


class ServingLock:
    """The shared lock of one serving process."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def hold(self) -> None:
        """Take the shared lock; refused while a restore holds it exclusively."""
        create_private_file(self._path)
        fd = os.open(self._path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise EnvironmentRefused(
                "a restore is running on this project (bastion restore): wait for it to end"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Let the lock go (closing the file releases it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextmanager
def nobody_serving(data_dir: Path) -> Iterator[None]:
    """Hold the lock exclusively for the block; refused while any server runs."""
    path = data_dir / LOCK_FILE
    create_private_file(path)
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EnvironmentRefused(
                f"a server is running on this project ({data_dir.parent}): stop it, then "
                "run the command again"
            ) from None
        yield
    finally:
        os.close(fd)
