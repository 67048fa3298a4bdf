"""What the auth services need to know of a project, and nothing more.

Auth sits below the project layer, so it names the few facts it reads as a protocol: a
:class:`bastion.Project` is one, and so is anything else with these attributes (a test's or a
tool's own description of a project).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import URL

from bastion.auth.settings import AuthConfig
from bastion.model import Model


class ProjectSettings(Protocol):
    """The parts of ``bastion.yml`` auth reads."""

    @property
    def name(self) -> str:
        """The project's name (a context word for passwords)."""

    @property
    def app_id(self) -> str:
        """The app id: tokens' audience, the Stitch routes' app, a key derivation input."""

    @property
    def auth(self) -> AuthConfig:
        """The ``auth:`` section."""


class AuthProject(Protocol):
    """A project as the auth services see it."""

    @property
    def config(self) -> ProjectSettings:
        """Its settings."""

    @property
    def root(self) -> Path:
        """The project folder (custom-token key files are relative to it)."""

    @property
    def data_dir(self) -> Path:
        """Where its secret lives (and the signing keys of earlier versions)."""

    @property
    def database_url(self) -> URL:
        """Its database (where the signing keys live)."""

    @property
    def model(self) -> Model:
        """Its data model."""
