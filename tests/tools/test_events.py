"""The event hub: who hears what, and when."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bastion.tools.events import EventHub


@dataclass(frozen=True)
class Ended:
    ids: tuple[str, ...]


@dataclass(frozen=True)
class LateEnded(Ended):
    pass


@dataclass(frozen=True)
class Changed:
    user_id: str


def test_handlers_hear_their_class_in_the_order_they_subscribed() -> None:
    hub, heard = EventHub(), []
    hub.subscribe(Ended, lambda e: heard.append(("first", e.ids)))
    hub.subscribe(Changed, lambda e: heard.append(("changed", e.user_id)))
    hub.subscribe(Ended, lambda e: heard.append(("second", e.ids)))
    hub.publish(Ended(("a", "b")))
    # Done when publish returns: the publisher may count on the effect.
    assert heard == [("first", ("a", "b")), ("second", ("a", "b"))]


def test_an_event_nobody_listens_to_is_dropped() -> None:
    hub = EventHub()
    hub.publish(Changed("u"))  # no error, no effect


def test_a_subclass_is_not_its_base() -> None:
    hub, heard = EventHub(), []
    hub.subscribe(Ended, heard.append)
    hub.publish(LateEnded(("a",)))
    assert heard == []


def test_a_failing_handler_fails_the_publisher() -> None:
    hub = EventHub()

    def fail(_: Changed) -> None:
        raise RuntimeError("boom")

    hub.subscribe(Changed, fail)
    with pytest.raises(RuntimeError, match="boom"):
        hub.publish(Changed("u"))
