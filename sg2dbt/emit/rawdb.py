"""Create the raw tables on a live database: the same metadata as the DDL file, through SQLAlchemy."""

from __future__ import annotations

import sqlalchemy as sa

from sg2dbt.core.database import create_engine, ensure_schema
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, RawLayout
from sg2dbt.core.secrets import display_database_url, redacted_first_line
from sg2dbt.emit.metadata import build_metadata


def create_raw_tables(layout: RawLayout, url: str | sa.Engine,
                      raw_schema: str | None = DEFAULT_RAW_SCHEMA) -> sa.MetaData:
    """Create ``raw_schema`` (if needed) and one table per entity, leaving existing tables alone.

    Takes a URL (``duckdb:///path``, ``postgresql+psycopg://...``) or an Engine, so the loader and the
    demo can reuse their own. Returns the metadata, whose tables the caller can insert into.
    """
    engine = create_engine(url) if isinstance(url, str) else url
    metadata = build_metadata(layout, raw_schema)
    try:
        with engine.begin() as conn:
            ensure_schema(conn, raw_schema)
            metadata.create_all(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise Sg2dbtError(f"cannot create the raw tables in {display_database_url(engine.url)}: "
                          f"{redacted_first_line(exc)}") from None
    finally:
        if isinstance(url, str):
            engine.dispose()
    return metadata
