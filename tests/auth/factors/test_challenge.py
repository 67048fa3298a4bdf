"""The challenge a login answers for its second factor: signed, bound to the project and
purpose, expiring; never readable once changed."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from bastion.auth.factors.challenge import ChallengeRefused, Challenges, Pending
from bastion.tools.clock import FrozenClock


class _Derived:
    """DerivedSecrets' one method the challenges use, over a fixed key per purpose."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def derive(self, purpose: str, message: bytes) -> bytes:
        return hmac.new(self.key + purpose.encode(), message, hashlib.sha256).digest()


def _challenges(clock: FrozenClock, key: bytes = b"k" * 32) -> Challenges:
    derived: Any = _Derived(key)
    return Challenges(derived, clock, lifetime=300)


def test_a_challenge_reads_back_its_login() -> None:
    clock = FrozenClock()
    challenges = _challenges(clock)
    pending = Pending("u1", "local-userpass", stitch=True, device_id="d" * 24)
    assert challenges.read(challenges.issue(pending)) == pending


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # signature
        lambda c: "x" + c,  # body
        lambda c: c.replace(".", ""),  # shape
        lambda c: c + "." + c,
        lambda c: "",
        lambda c: "a" * 2000,
    ],
)
def test_a_damaged_challenge_is_refused(damage: Any) -> None:
    challenges = _challenges(FrozenClock())
    challenge = challenges.issue(Pending("u1", "local-userpass"))
    with pytest.raises(ChallengeRefused):
        challenges.read(damage(challenge))


def test_a_challenge_expires() -> None:
    clock = FrozenClock()
    challenges = _challenges(clock)
    challenge = challenges.issue(Pending("u1", "local-userpass"))
    clock.advance(299)
    assert challenges.read(challenge).user_id == "u1"
    clock.advance(1)
    with pytest.raises(ChallengeRefused):
        challenges.read(challenge)


def test_another_projects_challenge_is_refused() -> None:
    clock = FrozenClock()
    ours, theirs = _challenges(clock, b"a" * 32), _challenges(clock, b"b" * 32)
    with pytest.raises(ChallengeRefused):
        ours.read(theirs.issue(Pending("u1", "local-userpass")))
