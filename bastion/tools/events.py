"""A small typed publish/subscribe, so that an effect crosses floors without a call upward.

The floor that knows a fact publishes it as a value (a frozen dataclass of its own); the
composition root decides who listens. Handlers are keyed by the event's exact class, run in
the order they subscribed, synchronously, before :meth:`EventHub.publish` returns: a
publisher may count on the effect (a cache that forgot a revoked session) being in place
once the call is over. A handler with slow work (I/O) starts a task of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

E = TypeVar("E")


class EventHub:
    """Who listens to which class of event, within one process."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` with every event of class ``kind`` (not its subclasses)."""
        self._handlers.setdefault(kind, []).append(handler)

    def publish(self, event: object) -> None:
        """Hand ``event`` to its class's handlers, in order; an error of one propagates."""
        for handler in self._handlers.get(type(event), ()):
            handler(event)
