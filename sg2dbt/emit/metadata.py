"""SQLAlchemy metadata for the raw tables, built from the :class:`~sg2dbt.core.layout.RawLayout`.

No foreign keys (SG data has dangling links) and no autoincrement anywhere: ids come from SG.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table
from sqlalchemy.types import TypeEngine

from sg2dbt.core.layout import RawLayout, RawTable, Role
from sg2dbt.core.typemap import STORAGE, Logical
from sg2dbt.emit.ormsupport import SgDate


def orm_sa_type(logical: Logical) -> TypeEngine:
    """The ORM classes' type: the type map's, but a DATE also takes SG's 'YYYY-MM-DD' strings."""
    return SgDate() if logical is Logical.DATE else STORAGE[logical].sa_type()


def table(layout_table: RawTable, metadata: MetaData, schema: str | None = None, *, orm: bool = False) -> Table:
    """The raw table; with ``orm``, column types that also take values as ``find()`` returns them (a DATE
    that takes 'YYYY-MM-DD' strings) and compile to the same DDL."""
    columns = [
        Column(
            c.name,
            orm_sa_type(c.logical) if orm else c.sa_type,
            key=c.attr,
            primary_key=c.role is Role.ID,
            autoincrement=False,
            nullable=c.role is not Role.ID,
            doc=c.doc,
            quote=True if c.quoted else None,
        )
        for c in layout_table.columns
    ]
    # Quote names reserved on ANY supported database, not only on the dialect at hand: SQLite's list in
    # SQLAlchemy lacks ``returning``, DuckDB's lacks ``pivot``, and one DDL file serves every target.
    return Table(layout_table.name, metadata, *columns, schema=schema,
                 quote=True if layout_table.quoted else None,
                 info={"sg_entity": layout_table.entity.name})


def build_metadata(layout: RawLayout, schema: str | None = None) -> MetaData:
    """A new MetaData with one Table per entity, in the database schema ``schema`` (SGORM maps its classes
    onto its own ``Base.metadata`` with :func:`table` instead)."""
    md = MetaData()
    for t in layout:
        table(t, md, schema)
    return md
