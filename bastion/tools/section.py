"""The base of every section of ``bastion.yml``: unknown keys are errors, values are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A part of the project file; a misspelt key is refused, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
