"""A bounded mapping that forgets the entry used least recently first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most ``size`` entries; a lookup that finds one makes it the most recent.

    ``functools.lru_cache`` keeps every result of the function it wraps; this one keeps only
    what its owner puts in (the executor leaves out documents whose text may hold a secret).
    """

    __slots__ = ("_entries", "_size", "hits", "misses")

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._size = size
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        """The entry of ``key``, now the most recent; None when there is none."""
        value = self._entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` as the most recent entry, forgetting the oldest when full."""
        entries = self._entries
        entries[key] = value
        entries.move_to_end(key)
        if len(entries) > self._size:
            entries.popitem(last=False)
