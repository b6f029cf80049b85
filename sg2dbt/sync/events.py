"""The site's event log (EventLogEntry) read into the set of records that changed.

SG writes one EventLogEntry per change: ``event_type`` is ``<domain>_<Entity>_<New|Change|Retirement|Revival>``
and ``meta`` names the record (``entity_type``, ``entity_id``). What the reader relies on, and why:

* one ``find`` per cycle, ``id > cursor - WINDOW`` ordered by id: event ids can become visible out of order
  (a transaction that took an id commits after a later one), so a small window behind the cursor is read again
  and only ids not seen before count;
* the record comes from ``meta``, not from the ``entity`` link, which SG nulls once the record is retired
  (even on its New and Change events);
* a back-reference change (setting Task.entity changes Shot.tasks) names the referrer in ``meta``: it is a
  change of that record like any other;
* events of other domains (a pipeline's own ``Toolkit_...`` events), meta-types such as
  ``Shotgun_Reading_Change`` and entities outside the selection are ignored;
* ``Shotgun_DisplayColumn_*`` (a field created, changed or deleted) and ``Shotgun_EntityType_*`` mark the
  schema as changed: the cycle reads it again.

What an event says about a record (new, changed, retired, revived) is not trusted: the record is re-read
from the site, live or retired, which is idempotent and right whatever order events arrive in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sg2dbt.core.convert import Record

log = logging.getLogger(__name__)

EVENT_ENTITY = "EventLogEntry"
EVENT_FIELDS = ["id", "event_type", "entity", "meta", "created_at"]
WINDOW = 100          # event ids re-read behind the cursor (out-of-order commits)
PAGE = 500
KINDS = frozenset({"New", "Change", "Retirement", "Revival"})
SCHEMA_TYPES = frozenset({"DisplayColumn", "EntityType", "Entity"})
_BY_ID = [{"field_name": "id", "direction": "asc"}]


class EventSource(Protocol):
    def find(self, entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[Record]: ...


@dataclass
class Position:
    """Where the reader stands: every event id up to ``last`` has been read except those of the window
    (``last - WINDOW``, ``last``] that are not in ``seen``."""

    last: int = 0
    seen: frozenset[int] = frozenset()

    def is_new(self, eid: int) -> bool:
        return eid > self.last or (eid > self.last - WINDOW and eid not in self.seen)

    def advanced(self, ids: Iterable[int]) -> Position:
        ids = set(ids)
        last = max([self.last, *ids])
        return Position(last, frozenset(i for i in self.seen | ids if i > last - WINDOW))

    @classmethod
    def at(cls, newest: int) -> Position:
        """Every event up to ``newest`` counted as read (after a full load taken once it was the newest)."""
        return cls(newest, frozenset(range(max(1, newest - WINDOW + 1), newest + 1)))


@dataclass
class Batch:
    """The events of one poll, grouped."""

    position: Position                                    # where the reader stands after them
    changed: dict[str, set[int]] = field(default_factory=dict)   # entity -> ids to re-read
    schema_changed: bool = False
    events: int = 0                                       # new events read (whatever they were about)
    newest: int = 0                                       # the newest event id on the site


def parse(event: Record) -> tuple[str, str, int | None] | None:
    """``(kind, entity type, record id)`` of a site event, or None for another domain's event."""
    name = event.get("event_type")
    if not isinstance(name, str):
        return None
    domain, _, rest = name.partition("_")
    entity, _, kind = rest.rpartition("_")
    if domain != "Shotgun" or kind not in KINDS or not entity:
        return None
    meta = event.get("meta")
    meta = meta if isinstance(meta, dict) else {}
    link = event.get("entity")
    link = link if isinstance(link, dict) else {}
    etype = meta.get("entity_type") or link.get("type") or entity
    rid = meta.get("entity_id", link.get("id"))
    return kind, str(etype), rid if type(rid) is int else None


def newest_event(source: EventSource) -> int:
    """The newest event id on the site (0 when the log is empty)."""
    page = source.find(EVENT_ENTITY, [], ["id"], order=[{"field_name": "id", "direction": "desc"}], limit=1)
    return max((e["id"] for e in page), default=0)


def poll(source: EventSource, position: Position, selection: Iterable[str]) -> Batch:
    """Read the events after ``position`` (one ``find``, more only past 500 new events) and group them."""
    wanted = set(selection)
    batch = Batch(position=position)
    after = max(0, position.last - WINDOW)
    read: list[int] = []
    while True:
        page = source.find(EVENT_ENTITY, [["id", "greater_than", after]], EVENT_FIELDS, order=_BY_ID, limit=PAGE)
        page = sorted(page, key=lambda e: e["id"])[:PAGE]   # Mockgun ignores limit
        for event in page:
            eid = event["id"]
            batch.newest = max(batch.newest, eid)
            if not position.is_new(eid):
                continue
            read.append(eid)
            batch.events += 1
            parsed = parse(event)
            if parsed is None:
                continue
            _kind, entity, rid = parsed
            if entity in SCHEMA_TYPES:
                batch.schema_changed = True
            elif entity in wanted and rid is not None:
                batch.changed.setdefault(entity, set()).add(rid)
        if len(page) < PAGE:
            break
        after = page[-1]["id"]
    batch.newest = max(batch.newest, position.last)
    batch.position = position.advanced(read)
    return batch
