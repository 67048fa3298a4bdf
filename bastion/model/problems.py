"""The problems of a schema file: where each one is, and the list they are collected in.

Every problem is reported as ``file:line:column: reason``, one line each, and all problems of a
file are collected before giving up, so a user fixes them in one round. The passes of the SDL
parser (:mod:`bastion.model.sdl`) share one :class:`Problems` and add to it as they go.
"""

from __future__ import annotations

from graphql import Source
from graphql.language import Node
from graphql.language.location import SourceLocation as GqlLocation
from graphql.language.location import get_location


class Problems:
    """The problems found so far, one ``where: reason`` line each, in the order found."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, reason: str) -> None:
        """Note one problem at ``where`` (a :func:`where` string)."""
        self.lines.append(f"{where}: {reason}")


def where(source: Source, node: Node | None) -> str:
    """``file:line:column`` of ``node`` in ``source``; the file alone when it has no location."""
    if node is None or node.loc is None:
        return source.name
    loc: GqlLocation = get_location(source, node.loc.start)
    return f"{source.name}:{loc.line}:{loc.column}"


def a(word: str) -> str:
    """``enum`` -> ``an enum``, ``type`` -> ``a type``."""
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"
