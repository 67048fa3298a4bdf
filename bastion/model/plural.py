"""English plurals of the last word of type names (``Movie`` -> ``movies``).

A few rules and a table of irregular nouns cover the names data models use. We first used the
`inflect` library, but importing it costs about 3 s of CPU (its runtime type checking), paid by
every `bastion` command; names only need this much.
"""

from __future__ import annotations

import re

_IRREGULAR = {
    "person": "people",
    "man": "men",
    "woman": "women",
    "child": "children",
    "mouse": "mice",
    "goose": "geese",
    "foot": "feet",
    "tooth": "teeth",
    "ox": "oxen",
    "datum": "data",
    "medium": "media",
    "criterion": "criteria",
    "phenomenon": "phenomena",
    "analysis": "analyses",
    "basis": "bases",
    "crisis": "crises",
    "thesis": "theses",
    "leaf": "leaves",
    "life": "lives",
    "knife": "knives",
    "wife": "wives",
    "half": "halves",
    "shelf": "shelves",
    "wolf": "wolves",
    "calf": "calves",
    "photo": "photos",
    "piano": "pianos",
    "video": "videos",
    "radio": "radios",
    "zoo": "zoos",
    "hero": "heroes",
    "potato": "potatoes",
    "tomato": "tomatoes",
    "echo": "echoes",
    "quiz": "quizzes",
}
# Nouns whose plural is the word itself.
_SAME = frozenset(
    {
        "sheep", "fish", "deer", "series", "species", "news", "equipment", "information",
        "money", "rice", "aircraft", "moose", "bison", "salmon", "trout", "software",
        "hardware", "feedback", "metadata", "staff",
    }
)  # fmt: skip


def plural_word(word: str) -> str:
    """The plural of one lower-case English noun."""
    if word in _SAME:
        return word
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"
