"""Node ids: 24 hex characters in MongoDB's ObjectId layout.

Stitch clients expect ObjectId-shaped ids, and the layout (a timestamp, then process
randomness, then a counter) makes ids sort in creation order, which gives lists a stable
default order.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import threading
import time

_PROCESS = secrets.token_bytes(5)
_PID = os.getpid()
_COUNTER = itertools.count(secrets.randbelow(0xFFFFFF))
_LOCK = threading.Lock()


def new_id() -> str:
    """A new, unique node id."""
    global _PROCESS, _PID
    with _LOCK:
        if os.getpid() != _PID:  # a forked worker must not repeat its parent's ids
            _PROCESS, _PID = secrets.token_bytes(5), os.getpid()
        count = next(_COUNTER) & 0xFFFFFF
        process = _PROCESS
    return (int(time.time()).to_bytes(4, "big") + process + count.to_bytes(3, "big")).hex()


_ID = re.compile(r"[0-9a-f]{24}")
NULL_ID = "0" * 24
"""The all-zero id Stitch clients send for a device they have no id for yet."""


def is_id(value: object) -> bool:
    """True for a string in the shape of a node id (24 lowercase hex characters)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None
