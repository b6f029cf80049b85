"""CREATE TABLE statements for the raw layer, compiled by SQLAlchemy for a named dialect."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateSchema, CreateTable

from sg2dbt.core.dialects import DDL_DIALECTS, capabilities, too_wide
from sg2dbt.core.errors import Sg2dbtError

DIALECTS = DDL_DIALECTS


def dialect(name: str) -> Dialect:
    if name not in DIALECTS:
        raise Sg2dbtError(f"unknown dialect {name!r}; choose one of {', '.join(DIALECTS)}")
    if name == "mariadb":
        from sqlalchemy.dialects.mysql.mariadb import MariaDBDialect

        return MariaDBDialect()
    return registry.load(name)()


def create_statements(metadata: MetaData, dialect_name: str, *, create_schema: bool = True) -> str:
    """The whole DDL script: the schema (where the dialect has schemas), then one CREATE TABLE per entity.

    A table the dialect cannot hold (:func:`too_wide_tables`) is left out, with a comment saying why.
    """
    d = dialect(dialect_name)
    out: list[str] = []
    schemas = sorted({t.schema for t in metadata.tables.values() if t.schema})
    if create_schema and capabilities(dialect_name).schemas:
        out += [f"{str(CreateSchema(s, if_not_exists=True).compile(dialect=d)).strip()};" for s in schemas]
    for t in sorted(metadata.tables.values(), key=lambda t: t.name):
        why = too_wide(t, dialect_name)
        out.append(f"-- left out: {why}" if why else
                   f"{str(CreateTable(t, if_not_exists=True).compile(dialect=d)).strip()};")
    return "\n\n".join(out) + "\n"


def too_wide_tables(metadata: MetaData, dialect_name: str) -> list[str]:
    """Why each table too wide for the dialect cannot be created (one message per entity, sorted)."""
    return sorted(why for t in metadata.tables.values() if (why := too_wide(t, dialect_name)) is not None)
