"""Create the raw tables on a live database: the same metadata as the DDL file, through SQLAlchemy."""

from __future__ import annotations

import sqlalchemy as sa

from sg2dbt.core.database import create_engine, ensure_schema
from sg2dbt.core.dialects import too_wide
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, RawLayout
from sg2dbt.core.secrets import display_database_url, redacted_first_line
from sg2dbt.emit.metadata import build_metadata

TOO_WIDE = "sg2dbt_too_wide"   # metadata.info key: entity -> why its table was not created


def create_raw_tables(layout: RawLayout, url: str | sa.Engine,
                      raw_schema: str | None = DEFAULT_RAW_SCHEMA) -> sa.MetaData:
    """Create ``raw_schema`` (if needed) and one table per entity, leaving existing tables alone.

    Takes a URL (``duckdb:///path``, ``postgresql+psycopg://...``) or an Engine, so the loader and the
    demo can reuse their own. Returns the metadata, whose tables the caller can insert into.

    A table with more columns than the database allows (PostgreSQL: 1,600) is not created; the others are.
    ``metadata.info[TOO_WIDE]`` maps each such entity to the message saying why and what to leave out.
    """
    engine = create_engine(url) if isinstance(url, str) else url
    metadata = build_metadata(layout, raw_schema)
    wide = {t.info.get("sg_entity", t.name): why for t in metadata.tables.values()
            if (why := too_wide(t, engine.dialect)) is not None}
    metadata.info[TOO_WIDE] = wide
    fitting = [t for t in metadata.tables.values() if t.info.get("sg_entity", t.name) not in wide]
    try:
        with engine.begin() as conn:
            ensure_schema(conn, raw_schema)
            metadata.create_all(conn, tables=fitting)
    except sa.exc.SQLAlchemyError as exc:
        raise Sg2dbtError(f"cannot create the raw tables in {display_database_url(engine.url)}: "
                          f"{redacted_first_line(exc, 500)}") from None
    finally:
        if isinstance(url, str):
            engine.dispose()
    return metadata
