"""Who is asking: the :class:`Viewer` every request carries from the HTTP edge to the store."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ViewerKind(StrEnum):
    """The kinds of caller Bastion tells apart."""

    ANONYMOUS = "anonymous"
    USER = "user"
    NODE = "node"
    ROOT = "root"
    SYSTEM = "system"


@dataclass(frozen=True)
class Viewer:
    """The caller of one request.

    ``SYSTEM`` is Bastion itself (seeding a project); it is never the result of a token.
    """

    kind: ViewerKind = ViewerKind.ANONYMOUS
    user_id: str | None = None
    session_id: str | None = None
    # The name of the root token a ROOT viewer came with.
    token_name: str | None = None
    # The node a NODE viewer's token is bound to, and its type.
    node_id: str | None = None
    node_type: str | None = None
    # Whether the USER viewer's session began with a second factor (rules: `$viewer.mfa`).
    mfa: bool = False

    @property
    def is_authenticated(self) -> bool:
        """True for anyone but anonymous callers."""
        return self.kind is not ViewerKind.ANONYMOUS

    @property
    def is_privileged(self) -> bool:
        """True for root tokens and Bastion itself, which see everything."""
        return self.kind in (ViewerKind.ROOT, ViewerKind.SYSTEM)


ANONYMOUS = Viewer()
SYSTEM = Viewer(ViewerKind.SYSTEM)
