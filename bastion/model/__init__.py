"""The data model of a project: parsed from SDL, used by the store and the GraphQL layer."""

from bastion.model.sdl import parse_model
from bastion.model.types import (
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
