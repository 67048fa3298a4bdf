"""Which language a mail is written in: the user's own, else the client's, else the default.

``Accept-Language`` is read as RFC 9110 says (``fr-CH, fr;q=0.9, en;q=0.8``): tags by falling
weight, each tried whole and then by its primary language. The header is capped before it is
parsed, like every input.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

MAX_HEADER = 500
_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")


def accepted(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, preferred first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:MAX_HEADER].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not _TAG.match(tag):
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if 0 < weight <= 1:
            weighted.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def choose(wanted: Iterable[str | None], available: Collection[str], default: str) -> str:
    """The first of ``wanted`` (exact, then its primary language) that is ``available``."""
    by_lower = {name.lower(): name for name in available}
    for tag in wanted:
        if not tag:
            continue
        tag = tag.strip().replace("_", "-").lower()
        for candidate in (tag, tag.split("-")[0]):
            if candidate in by_lower:
                return by_lower[candidate]
    return default
