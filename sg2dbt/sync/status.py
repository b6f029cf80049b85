"""``sg2dbt status``: where each entity stands, from the warehouse alone (no site call).

Per entity: the last sync, its mode (``<how the cycle reached it>:<what the loader did>``, e.g.
``events:changes``, ``scan:incremental``, ``scan:full``), rows live and retired, the event it is synced up to,
the last failure (when it is newer than the last success) and ids waiting to be re-read. Overall: the event
cursor, the newest event the site had at the last poll, the lag between them (events and seconds since that
poll) and the last ``updated_at`` scan.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from sg2dbt.core.dialects import capabilities
from sg2dbt.loader import state as loader_state
from sg2dbt.sync import cursor

UTC = dt.timezone.utc


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status(engine: sa.Engine, raw_schema: str | None) -> dict[str, Any]:
    raw_schema = raw_schema if capabilities(engine.dialect).schemas else None
    metadata = sa.MetaData()
    state_table = loader_state.sync_table(metadata, raw_schema)
    events_table = cursor.events_table(metadata, raw_schema)
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        have = set(inspector.get_table_names(schema=raw_schema))
        names: list[str] = list(conn.scalars(sa.select(state_table.c.entity))) if state_table.name in have else []
        states = {name: loader_state.read(conn, state_table, name) for name in names}
        notes = cursor.rows(conn, events_table) if events_table.name in have else {}
    rdr = cursor.reader(notes)
    now = dt.datetime.now(UTC)
    reader_row = notes.get(cursor.READER, {})
    entities = []
    for name in sorted(set(states) | (set(notes) - {cursor.READER})):
        s = states.get(name)
        n: dict[str, Any] = notes.get(name, {})
        failed = n.get("last_error_at") is not None and (n.get("last_ok") is None or n["last_error_at"] > n["last_ok"])
        entities.append({
            "entity": name, "table": s.table_name if s else None,
            "last_sync": _iso(s.last_sync) if s else None, "mode": n.get("mode"),
            "rows_live": s.rows_live if s else None, "rows_retired": s.rows_retired if s else None,
            "last_event_id": n.get("last_event_id"),
            "pending": len(json.loads(n["pending"])) if n.get("pending") else 0,
            "error": n.get("last_error") if failed else None,
            "error_at": _iso(n.get("last_error_at")) if failed else None,
        })
    position = rdr.position.last if rdr.position else None
    polled = reader_row.get("last_ok") or None
    return {
        "event_cursor": position, "newest_event": rdr.newest,
        "lag_events": None if position is None or rdr.newest is None else rdr.newest - position,
        "last_scan": _iso(rdr.last_scan),
        "seconds_since_scan": round((now - rdr.last_scan).total_seconds(), 1) if rdr.last_scan else None,
        "last_poll": _iso(polled),
        "failed": sum(1 for e in entities if e["error"]),
        "entities": entities,
    }
