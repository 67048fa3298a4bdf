"""POST bodies seen before, by their bytes: the prepared document each one asks for.

An app sends the same few bodies again and again (the same query, no variables). Their bytes
decide everything the endpoint does before it authenticates: the body's JSON, its checks, the
document, its validation and the operation it picks. A body already answered that way is
looked up here instead: one dict lookup where the endpoint would decode the text, parse the
JSON, check each parameter and look the document up by its text.

Only bodies whose document prepared, with no variables (or an empty object of them), are kept:
their answer to every step is the same each time, and what is kept is never changed. A body
whose document the executor does not keep (its text may hold a secret:
:mod:`bastion.graphql.literal_secrets`) is not kept here either. The cache
is bounded (entries and the bytes of each), and one app's generation has its own: a deploy
starts afresh with the new schema.
"""

from __future__ import annotations

from bastion.graphql.execute import Prepared

MAX_ENTRIES = 256
MAX_BODY_LENGTH = 16_384


class KnownBodies:
    """The prepared documents of up to ``MAX_ENTRIES`` bodies (of at most
    ``MAX_BODY_LENGTH`` bytes each); the oldest is forgotten first."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        # A body's prepared document, and whether it sent `"variables": {}` (rather than none).
        self._known: dict[bytes, tuple[Prepared, bool]] = {}

    def get(self, body: bytes) -> tuple[Prepared, bool] | None:
        """The prepared document of ``body``, and whether it sent an empty ``variables``."""
        return self._known.get(body)

    def keep(self, body: bytes, prepared: Prepared, empty_variables: bool) -> None:
        """Remember what ``body`` prepared (a body that sent no variables, or ``{}``)."""
        if len(body) > MAX_BODY_LENGTH:
            return
        known = self._known
        if len(known) >= MAX_ENTRIES:
            del known[next(iter(known))]
        known[body] = (prepared, empty_variables)
