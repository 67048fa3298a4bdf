"""Bastion: a self-hosted GraphQL backend with authentication built in."""

from bastion.http.app import create_app
from bastion.project import Project, load_project

__version__ = "0.1.0"

__all__ = ["Project", "__version__", "create_app", "load_project"]
