"""What each database can do, in one place: schemas, upsert, parallel writers, locking, identifier limits.

The loader, the sync state and the table creation used to ask ``conn.dialect.name`` themselves and each
kept its own answer (two upserts that disagreed for psycopg2, three "SQLite has no schemas"). They ask
:func:`capabilities` now; a new database is one entry in ``_CAPABILITIES``.

Identifier limits are recorded per database, but generated names are cut to :data:`PORTABLE_IDENTIFIER`
(PostgreSQL's 63 bytes, the smallest of the targets) whatever the database: one dbt project and one set of
raw tables must work unchanged on every target, so a name may not depend on where it was first built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from sg2dbt.core.naming import MAX_IDENTIFIER

PORTABLE_IDENTIFIER = MAX_IDENTIFIER

Upsert = Literal["on_conflict", "on_duplicate_key", "delete_insert"]


@dataclass(frozen=True)
class Capabilities:
    name: str
    schemas: bool                  # CREATE SCHEMA exists (SQLite: tables live in the main database)
    upsert: Upsert                 # the dialect's own upsert construct, or delete-then-insert
    parallel_writers: bool         # several connections can write at once (SQLite: one writer at a time)
    advisory_locks: bool           # named locks a transaction can hold (DuckDB and SQLite lock the file)
    identifier_limit: int | None   # bytes; None: no documented limit
    default_schema: str | None     # where unqualified tables go
    column_limit: int | None = None   # columns one table may have; None: none a SG entity reaches


_CAPABILITIES: dict[str, Capabilities] = {
    "postgresql": Capabilities("postgresql", schemas=True, upsert="on_conflict", parallel_writers=True,
                               advisory_locks=True, identifier_limit=63, default_schema="public",
                               column_limit=1600),
    "duckdb": Capabilities("duckdb", schemas=True, upsert="on_conflict", parallel_writers=True,
                           advisory_locks=False, identifier_limit=None, default_schema="main"),
    "sqlite": Capabilities("sqlite", schemas=False, upsert="on_conflict", parallel_writers=False,
                           advisory_locks=False, identifier_limit=None, default_schema=None, column_limit=2000),
    "mysql": Capabilities("mysql", schemas=True, upsert="on_duplicate_key", parallel_writers=True,
                          advisory_locks=False, identifier_limit=64, default_schema=None, column_limit=1017),
    "mariadb": Capabilities("mariadb", schemas=True, upsert="on_duplicate_key", parallel_writers=True,
                            advisory_locks=False, identifier_limit=64, default_schema=None, column_limit=1017),
}

# The databases sg2dbt writes DDL for and loads into (tested on each).
DDL_DIALECTS: tuple[str, ...] = tuple(_CAPABILITIES)

# A database not listed: the portable subset (SQLAlchemy Core only, one writer, delete-then-insert).
_PORTABLE = Capabilities("portable", schemas=True, upsert="delete_insert", parallel_writers=False,
                         advisory_locks=False, identifier_limit=None, default_schema=None)


def capabilities(dialect: sa.Dialect | str) -> Capabilities:
    name = dialect if isinstance(dialect, str) else dialect.name
    return _CAPABILITIES.get(name, _PORTABLE)


def upsert_statement(dialect: sa.Dialect, table: sa.Table, key: str, columns: Iterable[str],
                     values: Mapping[str, Any] | None = None) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` in the dialect's own words, or None for delete-then-insert.

    ``columns`` are the ones the incoming row overwrites (a load that leaves a field out must not touch
    its column). ``values`` binds a single row into the statement; without it the statement takes
    ``executemany`` parameters.
    """
    kind = capabilities(dialect).upsert
    if kind == "delete_insert":
        return None
    stmt: Any
    if kind == "on_conflict":
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (sqlite.insert if dialect.name == "sqlite" else postgresql.insert)(table)
    else:
        from sqlalchemy.dialects import mysql

        stmt = mysql.insert(table)
    if values is not None:
        stmt = stmt.values(dict(values))
    if kind == "on_conflict":
        return stmt.on_conflict_do_update(index_elements=[table.c[key]],
                                          set_={c: stmt.excluded[c] for c in columns if c != key})
    return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in columns if c != key})


def too_wide(table: sa.Table, dialect: sa.Dialect | str) -> str | None:
    """Why ``table`` cannot be created on ``dialect`` (more columns than it allows), or None.

    PostgreSQL holds at most 1,600 columns in a table, InnoDB (MySQL, MariaDB) 1,017, SQLite 2,000 by
    default. An entity that wide fails alone (its DDL left out, its load failed) with this message, which
    says how many fields to leave out; every other entity is created and loaded.
    """
    limit = capabilities(dialect).column_limit
    n = len(table.columns)
    if limit is None or n <= limit:
        return None
    entity = table.info.get("sg_entity", table.name)
    name = dialect if isinstance(dialect, str) else dialect.name
    return (f"entity {entity!r}: its raw table needs {n:,} columns, more than {name} allows in one table "
            f"({limit:,}); leave at least {n - limit:,} columns out with --ignore-field {entity}.FIELD (a link "
            f"field takes two), or the entity with --ignore {entity}")
