"""The composition root: ``bastion.yml`` and the project folder (:mod:`.config`,
:mod:`.loading`), the running service that wires every layer (:mod:`.service`), and the shipped
examples (:mod:`.examples`)."""

from bastion.project.loading import DATA_DIR, Project, load_project

__all__ = ["DATA_DIR", "Project", "load_project"]
