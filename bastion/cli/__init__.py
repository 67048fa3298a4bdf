"""The ``bastion`` command: one module per command group, put together in :mod:`.main`."""

from bastion.cli.main import main

__all__ = ["main"]
