"""A SQLAlchemy engine from the URL a user typed (``--db``, ``SG2DBT_DB``), failing as one clear error.

``create_engine`` raises ArgumentError, NoSuchModuleError, ValueError (a non-numeric port) or ImportError (a
missing driver) before any connection is made; each becomes a :class:`DatabaseURLError` whose message never
repeats the URL, which may hold a password. The URL's secrets are registered for redaction
(:mod:`sg2dbt.core.secrets`) before anything can print them.

Schemas and tables are created under a PostgreSQL advisory lock (:func:`ddl_lock`): several loaders started
at once on a fresh database would otherwise race on ``CREATE SCHEMA`` / ``CREATE TABLE`` (the catalog's unique
index refuses the second creator even with ``IF NOT EXISTS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sg2dbt.core import secrets
from sg2dbt.core.dialects import capabilities
from sg2dbt.core.errors import Sg2dbtError, first_line

if TYPE_CHECKING:
    import sqlalchemy as sa


class DatabaseURLError(Sg2dbtError):
    """The database URL cannot be used (malformed, unknown dialect, missing driver)."""


def ddl_lock(connection: sa.Connection, schema: str | None) -> None:
    """On PostgreSQL, serialise schema and table creation in ``schema`` until this transaction ends.

    DuckDB and SQLite lock the whole file; MariaDB's DDL commits implicitly and takes no part.
    """
    if capabilities(connection.dialect).advisory_locks:
        import sqlalchemy as sa

        connection.execute(sa.text("select pg_advisory_xact_lock(hashtext(:key))"),
                           {"key": f"sg2dbt ddl {schema or ''}"})


def raw_schema_for(engine: sa.Engine | sa.Connection, schema: str | None) -> str | None:
    """The schema to qualify raw tables with. On MySQL/MariaDB a ``--raw-schema`` naming the URL's own
    database is that connection's default schema: the tables are left unqualified (the same place), because
    Alembic's comparison reflects the default schema under no name and would take qualified tables there for
    missing ones."""
    url = engine.engine.url
    if schema and engine.dialect.name in ("mysql", "mariadb") and schema == url.database:
        return None
    return schema


def _refuse_duckdb_file_named_like(connection: sa.Connection, schema: str | None) -> None:
    """DuckDB names a database after its file: ``shotgrid_raw.duckdb`` with the raw schema ``shotgrid_raw``
    makes ``shotgrid_raw.shot`` ambiguous (catalog or schema?) to DuckDB and to dbt-duckdb alike."""
    if schema and connection.dialect.name == "duckdb":
        import sqlalchemy as sa

        catalog = connection.execute(sa.text("select current_database()")).scalar()
        if catalog == schema:
            raise Sg2dbtError(f"the DuckDB file is named like the raw schema {schema!r} (DuckDB names the database "
                              f"after the file, so {schema}.<table> is ambiguous): rename the file (e.g. "
                              f"{schema}_warehouse.duckdb) or choose another --raw-schema")


def ensure_schema(connection: sa.Connection, schema: str | None) -> None:
    """Create ``schema`` unless it exists (under :func:`ddl_lock`); SQLite has no schemas (its tables go in the
    main database)."""
    _refuse_duckdb_file_named_like(connection, schema)
    ddl_lock(connection, schema)
    if schema and capabilities(connection.dialect).schemas:
        from sqlalchemy.schema import CreateSchema

        connection.execute(CreateSchema(schema, if_not_exists=True))


# Drivers SQLAlchemy loads for a URL, and how to install them.
_DRIVER_FIX = {
    "psycopg": "pip install 'sg2dbt[postgres]'",
    "psycopg2": "pip install 'sg2dbt[postgres]' (it installs psycopg 3: use postgresql://, not +psycopg2)",
    "pymysql": "pip install 'sg2dbt[mysql]'",
    "MySQLdb": "pip install 'sg2dbt[mysql]' and use mysql+pymysql://",
    "duckdb_engine": "pip install duckdb-engine",
}
SUPPORTED = "postgresql://, duckdb:///path, sqlite:///path or mysql+pymysql://"


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """``sqlalchemy.create_engine(url, **kwargs)``, or a DatabaseURLError that names the fix."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseURLError(f"bad database URL: it does not read as dialect[+driver]://...; use {SUPPORTED}") \
            from None
    except ValueError:
        raise DatabaseURLError("bad database URL: the port is not a number") from None
    secrets.database_url(parsed)
    dialect = parsed.get_backend_name()
    if dialect == "postgres":
        raise DatabaseURLError("bad database URL: SQLAlchemy names PostgreSQL 'postgresql': write postgresql://... "
                               "instead of postgres://...")
    try:
        return sa.create_engine(parsed, **kwargs)
    except sa.exc.NoSuchModuleError:
        raise DatabaseURLError(f"bad database URL: no SQLAlchemy dialect {parsed.drivername!r} is installed; "
                               f"use {SUPPORTED}") from None
    except ImportError as exc:
        module = (exc.name or "").split(".")[0]
        fix = _DRIVER_FIX.get(module, f"install the Python package that provides {module or 'the driver'}")
        raise DatabaseURLError(f"the database driver for {parsed.drivername}:// is not installed "
                               f"(no module {module!r}): {fix}") from None
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise DatabaseURLError(f"bad database URL: {first_line(exc) or type(exc).__name__}") from None
