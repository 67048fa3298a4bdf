"""The project of the node-token tests (tests/auth/test_node_tokens.py, tests/cli/test_tokens.py):
movies, reviews and notes with rules that read ``$viewer.node``, and the document that shows
what a token stands for."""

from __future__ import annotations

SCHEMA = """
type Movie { title: String! }
type Review { text: String! movie: Movie }
type Note { text: String! byType: String byId: String }
"""
RULES = {
    "Movie": {
        "read": "everyone",
        "create": "everyone",
        "update": {"id": "$viewer.node"},
        "delete": "everyone",
    },
    "Review": {"read": "everyone", "create": "everyone"},
    # Only a node token may sign a note, and only as itself.
    "Note": {"read": "everyone", "create": {"byType": "$viewer.type", "byId": "$viewer.node"}},
    "User": {"read": {"id": "$viewer.id"}},
}
# As the issue writes it: `id` and `__typename` straight on the Node interface.
VIEWER = "{ viewer { isRoot user { id } node { id __typename ... on Movie { title } } } }"


def bearer(token: str) -> dict[str, str]:
    """The request header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}
