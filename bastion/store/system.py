"""Bastion's own tables, beside the model's: they share one MetaData."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table, Text

from bastion.store.tables import NAMING_CONVENTION


def new_metadata() -> MetaData:
    """An empty MetaData with Bastion's naming convention and its system tables."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "_bastion_meta",
        metadata,
        Column("key", String(100), primary_key=True),
        Column("value", Text, nullable=False),
    )
    return metadata


META_TABLE = "_bastion_meta"
