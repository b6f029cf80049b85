"""A stand-in SG site for the loader's tests and benchmark: realistic records for every data type.

Values look like what real SG returns (see SPEC "Field notes"): links as ``{type, id}``, dates as
'YYYY-MM-DD' strings, aware datetimes, url dicts, tag lists, colors, masked passwords. Mockgun refuses to
``create`` several of these types and never sets ``created_at``/``updated_at``, so :func:`seed_mockgun` writes
its rows straight into ``sg._db``, the way the SPEC's field notes describe.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sg2dbt.core.model import Entity, Field, Schema

UTC = dt.timezone.utc
BASE_TIME = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
# A non-UTC offset, so tests prove datetimes are converted rather than copied.
PARIS = dt.timezone(dt.timedelta(hours=2))


def _link_type(f: Field, schema: Schema) -> str | None:
    for t in f.valid_types:
        if t in schema:
            return t
    return None


def field_value(f: Field, rid: int, schema: Schema, *, variant: int = 0) -> Any:
    """A realistic value of field ``f`` for record ``rid``; ``variant`` changes it (for updates)."""
    n = rid + variant
    dtype = f.data_type
    if dtype in ("text", "footage"):
        return f"{f.name} {n} \u00e9t\u00e9, 'quoted'" if n % 7 else None
    if dtype in ("list", "status_list"):
        return f.valid_values[n % len(f.valid_values)] if f.valid_values else "ip"
    if dtype == "entity_type":
        return "Shot"
    if dtype == "color":
        return "pipeline_step" if n % 3 == 0 else f"{n % 256},0,255"
    if dtype == "uuid":
        return str(uuid.UUID(int=n))
    if dtype == "image":
        return f"https://sg.example.com/thumbs/{n}.jpg?AWSAccessKeyId=x&Signature=y" if n % 2 else None
    if dtype == "password":
        return "*******"
    if dtype in ("number", "duration", "percent", "timecode"):
        return n * 7 - 3
    if dtype in ("float", "currency"):
        return n * 0.25 + 0.125
    if dtype == "checkbox":
        return n % 2 == 0
    if dtype == "date":
        return (dt.date(2024, 1, 1) + dt.timedelta(days=n % 400)).isoformat()
    if dtype == "date_time":
        return (BASE_TIME + dt.timedelta(minutes=n)).astimezone(PARIS)
    if dtype == "url":
        return {"url": f"https://example.com/{n}", "name": f"link {n}", "link_type": "web",
                "content_type": None}
    if dtype == "serializable":
        return {"n": n, "nested": {"list": [1, 2, "three"], "ok": True}}
    if dtype == "tag_list":
        return ["hero", f"tag{n % 5}"]
    if dtype == "entity":
        t = _link_type(f, schema)
        return {"type": t, "id": n % 50 + 1} if t and n % 4 else None
    if dtype in ("multi_entity", "addressing"):
        t = _link_type(f, schema)
        return [{"type": t, "id": (n + k) % 50 + 1} for k in range(n % 3 + 1)] if t else []
    return None  # summary, pivot_column: not stored by a site


def record(entity: Entity, rid: int, schema: Schema, *, variant: int = 0,
           updated_at: dt.datetime | None = None) -> dict[str, Any]:
    """A find()-shaped record of every readable field of ``entity``."""
    rec: dict[str, Any] = {"type": entity.name, "id": rid}
    for f in entity.fields.values():
        if f.name == "id" or f.data_type in ("pivot_column", "summary"):
            continue
        rec[f.name] = field_value(f, rid, schema, variant=variant)
    if "updated_at" in entity.fields:
        rec["updated_at"] = updated_at or BASE_TIME + dt.timedelta(hours=rid)
    if "created_at" in entity.fields:
        rec["created_at"] = BASE_TIME + dt.timedelta(seconds=rid)
    return rec


def seed_mockgun(sg: Any, schema: Schema, entity: str, ids: range, **kw: Any) -> None:
    """Write records into a Mockgun site directly (its ``create`` refuses color, image, uuid, ...)."""
    ent = schema[entity]
    for rid in ids:
        row = sg._get_new_row(entity)
        row.update(record(ent, rid, schema, **kw))
        sg._db[entity][rid] = row


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        # the shape JSON dumps carry: a space instead of 'T' and an offset
        return value.isoformat(sep=" ")
    return value


def write_dump(out: Path, entity: Entity, records: Iterator[dict[str, Any]], *, retired: bool = False) -> Path:
    """A JSONL dump file in the layout ``sg2dbt load --from-dump`` reads."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{entity.name}{'.retired' if retired else ''}.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps({k: _jsonable(v) for k, v in rec.items()}) + "\n")
    return path
