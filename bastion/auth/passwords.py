"""Password rules and argon2id hashing (argon2-cffi).

A new password (sign-up, change, the CLI) must be 8 to 1024 bytes long, at least the
configured minimum of characters, and not easy to guess, as NIST SP 800-63B (section 3.1.1.2)
and ASVS 6.2.4 ask: not one of the 100,000 most common passwords (the list ships with the
package, ``data/common-passwords.txt.gz``), and not the app's name, its id or the user's
email with a little around it. No composition rules, never truncated.

Hashing runs in worker threads of its own, one per core (:func:`hashing_pool`), so a login
does not stall the event loop for its ~20 ms.
An unknown account is verified against a dummy hash, so that "no such user" takes as long
as "wrong password". Each hash and verification is timed on its thread and told to
:attr:`Passwords.observers` (the server's metrics): what the parameters cost on this machine.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import os
import time
import unicodedata
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bastion.auth.settings import PasswordHashConfig
from bastion.errors import BadUserInput, Code

_T = TypeVar("_T")

MAX_PASSWORD_BYTES = 1024
MIN_PASSWORD_LENGTH = 8  # the lowest minimum a project may configure
BLOCKLIST = "common-passwords.txt.gz"
# Shorter context words (an email's "al") would refuse too much and protect nothing.
MIN_CONTEXT_WORD = 3


class WeakPassword(BadUserInput):
    """A new password that is easy to guess: common, or made of the app's or the user's names.

    The message never repeats the password.
    """

    code = Code.WEAK_PASSWORD


def _folded(text: str) -> str:
    # One form for comparing: "Password", "PASSWORD" and "password" in full-width letters
    # are the same guess.
    return unicodedata.normalize("NFKC", text).casefold()


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, read once, case-folded; only the entries that
    the length rule lets through (shorter ones are refused anyway)."""
    data = resources.files("bastion.auth").joinpath("data", BLOCKLIST).read_bytes()
    lines = gzip.decompress(data).decode("utf-8", "replace").splitlines()
    return frozenset(
        folded for line in lines if len(folded := _folded(line)) >= MIN_PASSWORD_LENGTH
    )


def context_words(*texts: str | None) -> list[str]:
    """The words a password must not be built on: each text, and an email's parts."""
    words: set[str] = set()
    for text in texts:
        if not text:
            continue
        folded = _folded(text.strip())
        words.add(folded)
        local, at, domain = folded.partition("@")
        if at:
            words.update((local, domain, domain.split(".")[0]))
        words.add("".join(ch for ch in folded if ch.isalnum()))  # "My App" -> "myapp"
    # Longest first: "myapp" is taken out before "app" would split it.
    return sorted((w for w in words if len(w) >= MIN_CONTEXT_WORD), key=lambda w: (-len(w), w))


def check_password_rules(password: str, min_length: int, context: Iterable[str] = ()) -> None:
    """Refuse a new password that is too short, too long, common, or built on ``context``
    (the app's name and id, the user's email: see :func:`context_words`).

    Lengths are refused with BAD_USER_INPUT, guessable passwords with WEAK_PASSWORD.
    """
    try:
        size = len(password.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadUserInput("The password is not valid Unicode text", field="password") from None
    if size > MAX_PASSWORD_BYTES:
        raise BadUserInput(
            f"The password must be at most {MAX_PASSWORD_BYTES} bytes", field="password"
        )
    if len(password) < min_length:
        raise BadUserInput(
            f"The password must be at least {min_length} characters", field="password"
        )
    folded = _folded(password)
    blocked = common_passwords()
    if folded in blocked:
        raise WeakPassword(
            "This password is one of the most common passwords: choose another",
            field="password",
        )
    rest = folded
    for word in context:
        rest = rest.replace(word, "")
    # What is left once the names are taken out must stand as a password on its own.
    if rest != folded and (len(rest) < min_length or rest in blocked):
        raise WeakPassword(
            "This password is built on the app's name or your email: choose another",
            field="password",
        )


def hashing_threads() -> int:
    """How many hashes run at once: one per core this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def hashing_pool() -> ThreadPoolExecutor:
    """The process's threads for argon2id, one per core.

    Not asyncio's default executor: a burst of logins there would queue SQLite's commits
    (``asyncio.to_thread``) behind 20 ms hashes, and more hashes at once than cores only
    slices the same CPU thinner, with more memory traffic (19 MiB each).
    """
    return ThreadPoolExecutor(max_workers=hashing_threads(), thread_name_prefix="argon2id")


class Passwords:
    """Hash and verify passwords with one set of argon2id parameters."""

    def __init__(self, config: PasswordHashConfig) -> None:
        self._hasher = PasswordHasher(
            time_cost=config.time_cost,
            memory_cost=config.memory_cost,
            parallelism=config.parallelism,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash("bastion-dummy-password")
        self._pool = hashing_pool()
        self.observers: list[Callable[[float], None]] = []
        """Told the seconds of each hash and verification (a dummy one too), on its thread."""

    async def hash(self, password: str) -> str:
        """A new argon2id hash of ``password``."""
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, self._timed, self._hasher.hash, password
        )

    def _timed(self, call: Callable[..., _T], *args: Any) -> _T:
        """``call(*args)`` on the hashing thread, its seconds told to the observers."""
        start = time.perf_counter()
        try:
            return call(*args)
        finally:
            seconds = time.perf_counter() - start
            for observer in self.observers:
                observer(seconds)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; None (no account) still costs a hash."""
        return await self.start_verify(stored, password)

    def start_verify(self, stored: str | None, password: str) -> asyncio.Future[bool]:
        """:meth:`verify`, begun in a worker thread at once: the caller may do other work on
        the event loop while it runs (a login reads what follows the check), then awaits it."""
        try:
            too_long = len(password.encode("utf-8")) > MAX_PASSWORD_BYTES
        except UnicodeEncodeError:  # lone surrogates: no stored password can match
            too_long = True
        loop = asyncio.get_running_loop()
        if too_long:
            # Never hash oversized input; run the dummy (False) so the timing stays the same.
            return loop.run_in_executor(self._pool, self._timed, self._verify, None, "x")
        return loop.run_in_executor(self._pool, self._timed, self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` was made with other parameters than the current ones."""
        return self._hasher.check_needs_rehash(stored)
