"""Bastion: a self-hosted GraphQL backend with authentication built in.

The public names are loaded on first use (PEP 562), so that `bastion --version` and
`bastion.client` do not import the whole server stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Project",
    "__version__",
    "create_app",
    "generate_auth_token",
    "generate_node_token",
    "load_project",
]

_LAZY = {
    "create_app": "bastion.http.app",
    "Project": "bastion.project",
    "load_project": "bastion.project",
    "generate_auth_token": "bastion.auth.generate",
    "generate_node_token": "bastion.auth.generate",
}

if TYPE_CHECKING:
    from bastion.auth.generate import generate_auth_token, generate_node_token
    from bastion.http.app import create_app
    from bastion.project import Project, load_project


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bastion' has no attribute {name!r}")
