"""The deployed project: what ``bastion deploy`` records in the database for every node.

One cluster, one truth: nodes on other machines may have folders older than the one deployed
from, so a deploy stores the parts of the project that define the API in the database
(``_bastion_meta``), in the transaction that changes the tables. They are the schema's text
and the sections of ``bastion.yml`` that name its types and fields: ``permissions`` and
``functions`` (:data:`SECTIONS`). Everything else in ``bastion.yml`` (the database URL,
mail, providers, HTTP limits, secrets given inline) belongs to the machine and stays in its
own file: it is never copied into the database. The code of the functions, the seed and the
mail templates are files: they ship with each node's folder, as code does.

A serving node builds the recorded project with its own ``bastion.yml`` for the rest
(:func:`project_from`) and serves it once it is built (:mod:`bastion.project.redeploy`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bastion.errors import ProjectError
from bastion.project.config import PROJECT_FILE, load_config, parse_config
from bastion.project.loading import Project, assemble_project

SECTIONS = ("permissions", "functions")
"""The sections of ``bastion.yml`` a deploy records beside the schema."""
META_KEY = "deployed_project"
"""Where the record lives in ``_bastion_meta``."""


@dataclass(frozen=True)
class DeployedSource:
    """The schema's text and the recorded sections of ``bastion.yml``, as deployed."""

    schema: str
    sections: dict[str, Any]

    def to_text(self) -> str:
        """The record as stored: canonical JSON, so one project has one text."""
        return json.dumps(
            {"schema": self.schema, "sections": self.sections},
            sort_keys=True,
            separators=(",", ":"),
        )

    @cached_property
    def version(self) -> str:
        """A short name of this content (a hash): nodes compare it with what they serve."""
        return hashlib.sha256(self.to_text().encode("utf-8")).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> DeployedSource:
        """The record stored as ``text``."""
        value = json.loads(text)
        return cls(schema=str(value["schema"]), sections=dict(value["sections"]))


def _file_data(root: Path) -> dict[str, Any]:
    data = yaml.safe_load((root / PROJECT_FILE).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def source_of(project: Project) -> DeployedSource:
    """The source a deploy of ``project`` records, read from its folder."""
    schema = (project.root / project.config.schema_file).read_text(encoding="utf-8")
    data = _file_data(project.root)
    return DeployedSource(schema, {name: data[name] for name in SECTIONS if name in data})


def project_from(root: Path, source: DeployedSource) -> Project:
    """The project ``source`` records, over the ``bastion.yml`` of the folder ``root`` for the
    rest; raises :class:`ProjectError` when this folder cannot serve it (a function whose
    code it lacks, say)."""
    load_config(root)  # the folder's own file is valid: its problems are said in its words
    data = {k: v for k, v in _file_data(root).items() if k not in SECTIONS}
    data.update(source.sections)
    where = f"{root / PROJECT_FILE} (with the deployed {' and '.join(SECTIONS)})"
    config = parse_config(yaml.safe_dump(data, sort_keys=False), where)
    try:
        return assemble_project(root, config, source.schema, "schema.graphql (deployed)")
    except ProjectError:
        raise
    except Exception as error:  # a function module that fails to import, say
        raise ProjectError([f"the deployed project cannot be built here: {error}"]) from None
