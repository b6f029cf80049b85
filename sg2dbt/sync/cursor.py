"""The event cursor and per-entity sync notes: ``<raw_schema>._sg2dbt_events``.

One row per entity (``last_event_id``: the newest event whose changes its rows hold, written in the same
transaction as those rows; ``mode``; ``pending``: ids whose re-read failed, retried next cycle; the last
failure) and one row ``*`` for the reader: its position in the log (``last_event_id`` and the ids ``seen`` in the
window behind it), the newest event on the site at the last poll, when the last ``updated_at`` scan ran and
the hash of the schema last applied.

The ``*`` row advances after the entities' transactions have committed. A crash between the two leaves it
behind: the next cycle reads those events again and re-reads their records, which is idempotent (a record is
re-read as the site has it now), so nothing is lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sg2dbt.core.dialects import upsert_statement
from sg2dbt.sync.events import Position

EVENTS_TABLE = "_sg2dbt_events"   # the "_sg2dbt" prefix keeps it out of schema migrations
READER = "*"
UTC = dt.timezone.utc


def events_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    return sa.Table(
        EVENTS_TABLE, metadata,
        sa.Column("entity", sa.String(255), primary_key=True),
        sa.Column("last_event_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("seen", sa.Text),              # reader: JSON list of ids read in the window
        sa.Column("newest_event_id", sa.BigInteger),
        sa.Column("mode", sa.Text),
        sa.Column("pending", sa.Text),           # entity: JSON list of ids still to re-read
        sa.Column("last_scan", sa.DateTime(timezone=True)),
        sa.Column("schema_hash", sa.Text),
        sa.Column("last_ok", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", sa.DateTime(timezone=True)),
        schema=schema,
    )


@dataclass(frozen=True)
class Reader:
    position: Position | None      # None: the log was never read (the first sync loads in full)
    newest: int | None
    last_scan: dt.datetime | None
    schema_hash: str | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def rows(conn: sa.Connection, table: sa.Table) -> dict[str, dict[str, Any]]:
    out = {}
    for row in conn.execute(sa.select(table)).mappings():
        item = dict(row)
        for key in ("last_scan", "last_ok", "last_error_at"):
            item[key] = _aware(item[key])
        out[item["entity"]] = item
    return out


def reader(all_rows: dict[str, dict[str, Any]]) -> Reader:
    row = all_rows.get(READER)
    if row is None:
        return Reader(None, None, None, None)
    seen = frozenset(json.loads(row["seen"] or "[]"))
    return Reader(Position(int(row["last_event_id"]), seen), row["newest_event_id"], row["last_scan"],
                  row["schema_hash"])


def pending(all_rows: dict[str, dict[str, Any]], entity: str) -> set[int]:
    row = all_rows.get(entity)
    return set(json.loads(row["pending"] or "[]")) if row else set()


def upsert(conn: sa.Connection, table: sa.Table, entity: str, **values: Any) -> None:
    """Insert or update one row (only the columns given) with the dialect's own upsert."""
    row = {"entity": entity, **values}
    stmt = upsert_statement(conn.dialect, table, "entity", list(values), row)
    if stmt is None:
        raise NotImplementedError(f"sg2dbt sync does not run on {conn.dialect.name}")
    conn.execute(stmt)


def write_reader(conn: sa.Connection, table: sa.Table, position: Position, newest: int, **values: Any) -> None:
    upsert(conn, table, READER, last_event_id=position.last, seen=json.dumps(sorted(position.seen)),
           newest_event_id=newest, last_ok=dt.datetime.now(UTC), **values)


def write_entity(conn: sa.Connection, table: sa.Table, entity: str, last_event_id: int, mode: str) -> None:
    """Inside the entity's transaction: its rows now hold every change up to ``last_event_id``."""
    upsert(conn, table, entity, last_event_id=last_event_id, mode=mode, pending=None,
           last_ok=dt.datetime.now(UTC))


def write_failure(conn: sa.Connection, table: sa.Table, entity: str, error: str, ids: set[int]) -> None:
    """After the entity's transaction rolled back: what failed, and the ids to try again next cycle."""
    upsert(conn, table, entity, last_error=error, last_error_at=dt.datetime.now(UTC),
           pending=json.dumps(sorted(ids)) if ids else None)
