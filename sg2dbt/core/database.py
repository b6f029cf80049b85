"""A SQLAlchemy engine from the URL a user typed (``--db``, ``SG2DBT_DB``), failing as one clear error.

``create_engine`` raises ArgumentError, NoSuchModuleError, ValueError (a non-numeric port) or ImportError (a
missing driver) before any connection is made; each becomes a :class:`DatabaseURLError` whose message never
repeats the URL, which may hold a password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sg2dbt.core.errors import Sg2dbtError

if TYPE_CHECKING:
    import sqlalchemy as sa


class DatabaseURLError(Sg2dbtError):
    """The database URL cannot be used (malformed, unknown dialect, missing driver)."""


def ensure_schema(connection: sa.Connection, schema: str | None) -> None:
    """Create ``schema`` unless it exists; SQLite has no schemas (its tables go in the main database)."""
    if schema and connection.dialect.name != "sqlite":
        from sqlalchemy.schema import CreateSchema

        connection.execute(CreateSchema(schema, if_not_exists=True))


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """``sqlalchemy.create_engine(url, **kwargs)``, or a DatabaseURLError."""
    import sqlalchemy as sa

    try:
        return sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ValueError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseURLError(f"bad database URL: {first}") from None
