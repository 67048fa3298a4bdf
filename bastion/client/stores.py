"""Where a client keeps its tokens: in memory, in a file, or anywhere a :class:`TokenStore` fits.

Stores are synchronous on purpose: they are called between requests with a lock held for a
few microseconds, and a keyring or a local database answers that fast. They need not be
thread-safe; :class:`~bastion.client.auth.BastionAuth` serialises its calls to them.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

from bastion.client.tokens import TokenSet

log = logging.getLogger("bastion.client")

FILE_VERSION = 1


@runtime_checkable
class TokenStore(Protocol):
    """Keeps one session's tokens (a keyring, a database row, ...)."""

    def load(self) -> TokenSet | None:
        """The tokens kept, or None when logged out."""

    def save(self, tokens: TokenSet) -> None:
        """Keep ``tokens`` in place of whatever was kept."""

    def clear(self) -> None:
        """Forget the tokens (logged out, or the session ended)."""


class MemoryTokenStore:
    """Tokens in this process only: the default."""

    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens

    def load(self) -> TokenSet | None:
        """The tokens kept, or None."""
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        """Keep ``tokens``."""
        self._tokens = tokens

    def clear(self) -> None:
        """Forget the tokens."""
        self._tokens = None


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    # A replaced file has a new inode; an edited one a new mtime or size.
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


class FileTokenStore:
    """Tokens in a JSON file of mode 0600, so that a command-line tool stays logged in.

    Writes go to a temporary file in the same folder that then replaces the old one, so a
    crash never leaves half a file and a reader never sees one. The file is read again only
    when it changed on disk, which lets two processes notice each other's refreshes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._seen: tuple[int, int, int] | None = None
        self._tokens: TokenSet | None = None

    def load(self) -> TokenSet | None:
        """The tokens in the file, or None when there is no (readable) file."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._tokens = None, None
            return None
        seen = _identity(stat)
        if seen != self._seen:
            self._tokens = self._read()
            self._seen = seen
        return self._tokens

    def _read(self) -> TokenSet | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            return TokenSet.from_dict(record["tokens"])
        except (OSError, ValueError, KeyError, TypeError):
            # Not a file this store wrote; say so without its content (it may hold a token).
            log.warning("ignoring unreadable token file %s", self.path)
            return None

    def save(self, tokens: TokenSet) -> None:
        """Replace the file atomically with one holding ``tokens``, readable by the owner only."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        record = {"version": FILE_VERSION, "tokens": tokens.to_dict()}
        # mkstemp creates the file with mode 0600, so the token is never readable by others,
        # not even for the moment before a chmod.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(record, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._seen, self._tokens = _identity(self.path.stat()), tokens

    def clear(self) -> None:
        """Delete the file."""
        self.path.unlink(missing_ok=True)
        self._seen, self._tokens = None, None
