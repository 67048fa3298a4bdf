"""The data model of a project: parsed from SDL, used by the store and the GraphQL layer."""

from bastion.model.sdl import parse_model
from bastion.model.types import (
    MANAGED_TIMESTAMPS,
    Field,
    Model,
    ObjectType,
    OnDelete,
    Relation,
    RelationField,
    ScalarField,
    ScalarKind,
)

__all__ = [
    "MANAGED_TIMESTAMPS",
    "Field",
    "Model",
    "ObjectType",
    "OnDelete",
    "Relation",
    "RelationField",
    "ScalarField",
    "ScalarKind",
    "parse_model",
]
