"""What a server builds to serve, kept out of the garbage collector's full passes.

A started project is about 160,000 tracked objects (the schema, the compiled documents, the
model, the libraries), and it lives as long as the process. CPython's full collection walks all
of them: about 80 ms here, during which every request in flight waits; under load one comes
every few seconds, and it is what a p99 sees. :func:`settle` collects once, then freezes what
is left (``gc.freeze``), so later full passes walk only what was made since. A deploy served
without a restart calls it again once the project before has stopped, so that project's
objects are thawed and collected instead of kept frozen for good.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect, then keep every object left out of the collector's later passes."""
    gc.unfreeze()  # what an earlier settle froze: a project replaced since may be garbage now
    gc.collect()
    gc.freeze()
