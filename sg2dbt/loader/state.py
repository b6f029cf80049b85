"""The loader's sync state: one row per entity in ``<raw_schema>._sg2dbt_sync``.

The row is written in the same transaction as the entity's rows, so after a crash the state and the data
always describe the same moment: either both advanced or neither did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa

from sg2dbt.core.dialects import upsert_statement
from sg2dbt.core.layout import RawTable

SYNC_TABLE = "_sg2dbt_sync"   # the "_sg2dbt" prefix keeps it out of schema migrations (sg2dbt.evolve)


@dataclass(frozen=True)
class SyncState:
    entity: str
    table_name: str
    high_water: dt.datetime | None   # next incremental pass reads updated_at > high_water - overlap
    last_full_load: dt.datetime | None
    last_sync: dt.datetime
    fields_hash: str                 # which fields the rows hold: a new field forces a full reload
    rows_live: int
    rows_retired: int


def sync_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """The sync table, defined on ``metadata``: once per MetaData (SQLAlchemy refuses a second definition)."""
    return sa.Table(
        SYNC_TABLE, metadata,
        sa.Column("entity", sa.String(255), primary_key=True),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("high_water", sa.DateTime(timezone=True)),
        sa.Column("last_full_load", sa.DateTime(timezone=True)),
        sa.Column("last_sync", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fields_hash", sa.Text, nullable=False),
        sa.Column("rows_live", sa.BigInteger, nullable=False),
        sa.Column("rows_retired", sa.BigInteger, nullable=False),
        schema=schema,
    )


def fields_hash(table: RawTable) -> str:
    """Which columns a row fills, as stored in the ``fields_hash`` column: a JSON list of ``name:logical``.

    (Older loaders stored a 16-digit hash of the same text; :func:`covers` still reads it.) A list, not a
    hash, so a load that leaves fields out (``--ignore-field``) can tell that the rows still hold every
    column it writes and stay incremental, instead of reloading and wiping the columns it left out.
    """
    return json.dumps(_column_keys(table), separators=(",", ":"))


def _column_keys(table: RawTable) -> list[str]:
    return [f"{c.name}:{c.logical.value}" for c in table.columns]


def covers(stored: str, table: RawTable) -> bool:
    """Whether rows loaded with the ``stored`` column set hold every column ``table`` writes (no field was
    added or retyped since): then an incremental pass is enough."""
    keys = _column_keys(table)
    if not stored.startswith("["):   # the hash an older loader wrote
        return stored == hashlib.sha256(",".join(keys).encode()).hexdigest()[:16]
    try:
        previous = set(json.loads(stored))
    except ValueError:
        return False
    return previous.issuperset(keys)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite and MariaDB hand timestamps back naive; they were written as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def read(conn: sa.Connection, table: sa.Table, entity: str) -> SyncState | None:
    row = conn.execute(sa.select(table).where(table.c.entity == entity)).mappings().first()
    if row is None:
        return None
    return SyncState(
        entity=row["entity"], table_name=row["table_name"], high_water=_aware(row["high_water"]),
        last_full_load=_aware(row["last_full_load"]), last_sync=_aware(row["last_sync"]) or dt.datetime.min,
        fields_hash=row["fields_hash"], rows_live=row["rows_live"], rows_retired=row["rows_retired"])


def write(conn: sa.Connection, table: sa.Table, state: SyncState) -> None:
    """Insert or update the entity's row with the dialect's own upsert.

    Delete-then-insert would do on a single connection, but InnoDB takes gap locks for the delete of a
    missing row, and parallel workers creating their first state rows then deadlock on each other.
    """
    values = {"entity": state.entity, "table_name": state.table_name, "high_water": state.high_water,
              "last_full_load": state.last_full_load, "last_sync": state.last_sync,
              "fields_hash": state.fields_hash, "rows_live": state.rows_live, "rows_retired": state.rows_retired}
    stmt = upsert_statement(conn.dialect, table, "entity", values, values=values)
    if stmt is None:
        conn.execute(sa.delete(table).where(table.c.entity == state.entity))
        stmt = sa.insert(table).values(values)
    conn.execute(stmt)
