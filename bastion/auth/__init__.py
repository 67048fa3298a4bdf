"""Authentication: who the caller of a request is."""

from bastion.auth.viewer import ANONYMOUS, SYSTEM, Viewer, ViewerKind

__all__ = ["ANONYMOUS", "SYSTEM", "Viewer", "ViewerKind"]
