"""One sync cycle, and the ``--watch`` loop around it.

A cycle, under the warehouse lock (:mod:`.lock`):

1. the schema (when due: every one-shot run, at the start of ``--watch``, on a schema event and on every
   ``updated_at`` scan): two calls, reconciled with the warehouse by :mod:`.schema`;
2. entities never loaded (or whose rows lack a column since a field was added) load in full, through the
   loader; the event cursor starts at the newest event read before they load;
3. the event log (:mod:`.events`): one ``find`` per cycle; the changed records are re-read by id and applied
   through the loader (:func:`sg2dbt.loader.run.apply_changes`), each entity in one transaction with its
   cursor row;
4. when the scan is due (every ``scan_interval`` seconds, or every run when the site has no event log): an
   incremental ``updated_at`` pass of every entity with ``updated_at``, retirements reconciled, which catches
   changes made by scripts that generate no events. An entity without ``updated_at`` gets its new records
   by ``id > max(id)``, and a full comparison (reload) only when its last one is older than ``scan_interval``.

An idle cycle with an event log costs one request and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import sqlalchemy as sa

from sg2dbt.core.dialects import capabilities
from sg2dbt.core.layout import RawLayout
from sg2dbt.core.model import Schema
from sg2dbt.emit.project import ProjectOptions
from sg2dbt.loader import state as loader_state
from sg2dbt.loader.reader import SiteSource
from sg2dbt.loader.run import Changes, EntityResult, EntityResults, LoadOptions, apply_changes, load, prepare
from sg2dbt.schema.sources import from_connection
from sg2dbt.sync import cursor, events
from sg2dbt.sync.schema import SchemaStep, reconcile

log = logging.getLogger(__name__)
UTC = dt.timezone.utc


@dataclass(frozen=True)
class SyncOptions:
    raw_schema: str | None = "shotgrid_raw"
    workers: int = 4
    scan_interval: float = 300.0
    removed: Literal["keep", "drop"] = "keep"
    project_dir: Path | None = None
    project: ProjectOptions | None = None
    dbt_build: Literal["changed", "all", "none"] = "changed"
    only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    ignore_fields: tuple[str, ...] = ()


@dataclass
class CycleSummary(EntityResults):
    started_at: str
    seconds: float = 0.0
    events: int = 0
    cursor: int | None = None
    newest_event: int | None = None
    scanned: bool = False
    schema: dict[str, Any] | None = None
    dbt: dict[str, Any] | None = None
    entities: list[EntityResult] = field(default_factory=list)

    @property
    def held(self) -> list[str]:
        return list((self.schema or {}).get("held", []))

    def as_dict(self) -> dict[str, Any]:
        lag = None if self.cursor is None or self.newest_event is None else self.newest_event - self.cursor
        return {"started_at": self.started_at, "seconds": round(self.seconds, 3), "events": self.events,
                "event_cursor": self.cursor, "newest_event": self.newest_event, "lag_events": lag,
                "scanned": self.scanned, "rows": self.rows, "failed": len(self.failed), "schema": self.schema,
                "dbt": self.dbt,
                "entities": [asdict(e) | {"seconds": round(e.seconds, 3)} for e in self.entities if e.mode]}


class Syncer:
    """The state of one ``sg2dbt sync`` run: one site source (its connections kept for the run), one engine."""

    def __init__(self, engine: sa.Engine, source: SiteSource, options: SyncOptions) -> None:
        self.engine = engine
        self.source = source
        self.options = options
        self.raw_schema = options.raw_schema if capabilities(engine.dialect).schemas else None
        self.table = cursor.events_table(sa.MetaData(), self.raw_schema)
        self.step: SchemaStep | None = None
        self.has_log = False
        self.schema_due = True

    # -- steps ------------------------------------------------------------------------------------------------

    def _schema(self, previous_digest: str | None) -> SchemaStep:
        with self.source.connection() as sg:
            site = from_connection(sg, source=self.source.label)
        self.has_log = events.EVENT_ENTITY in site
        o = self.options
        live: Schema = site.filtered(only=o.only or None, ignore=o.ignore, ignore_fields=o.ignore_fields)
        step = reconcile(self.engine, live, self.raw_schema, removed=o.removed, previous_digest=previous_digest,
                         project_dir=o.project_dir, project=o.project)
        prepare(self.engine, step.layout, self.raw_schema)
        self.schema_due = False
        return step

    def _states(self) -> tuple[dict[str, loader_state.SyncState], dict[str, dict[str, Any]]]:
        metadata = sa.MetaData()
        state_table = loader_state.sync_table(metadata, self.raw_schema)
        with self.engine.connect() as conn:
            states: dict[str, loader_state.SyncState] = {}
            names: list[str] = list(conn.scalars(sa.select(state_table.c.entity)))   # read all before the next query
            for name in names:
                found = loader_state.read(conn, state_table, name)
                if found is not None:
                    states[name] = found
            return states, cursor.rows(conn, self.table)

    def _after(self, last_event_id: int, mode: str) -> Callable[[sa.Connection, EntityResult], None]:
        def write(conn: sa.Connection, result: EntityResult) -> None:
            cursor.write_entity(conn, self.table, result.entity, last_event_id, f"{mode}:{result.mode}")
        return write

    def _load_opts(self) -> LoadOptions:
        return LoadOptions(raw_schema=self.raw_schema, workers=self.options.workers)

    def _subset(self, layout: RawLayout, names: set[str]) -> RawLayout:
        return RawLayout(layout.schema, {n: t for n, t in layout.tables.items() if n in names})

    # -- the cycle --------------------------------------------------------------------------------------------

    def cycle(self, *, force_scan: bool = False) -> CycleSummary:
        started = dt.datetime.now(UTC)
        t0 = time.perf_counter()
        summary = CycleSummary(started_at=started.isoformat())
        if self.step is None:
            from sg2dbt.core.database import ensure_schema

            with self.engine.begin() as conn:
                ensure_schema(conn, self.raw_schema)
            self.table.create(self.engine, checkfirst=True)
            loader_state.sync_table(sa.MetaData(), self.raw_schema).create(self.engine, checkfirst=True)
        states, notes = self._states()
        rdr = cursor.reader(notes)
        if self.schema_due or self.step is None:
            self.step = self._schema(rdr.schema_hash)
            summary.schema = self.step.as_dict()
            states, notes = self._states()
        layout = self.step.layout
        names = set(layout.tables)

        batch: events.Batch | None = None
        position = rdr.position
        if self.has_log:
            if position is None:
                newest = events.newest_event(self.source)
                position = events.Position.at(newest)
                summary.newest_event = newest
            else:
                batch = events.poll(self.source, position, names)
                if batch.schema_changed and summary.schema is None:   # not read yet in this cycle
                    self.step = self._schema(rdr.schema_hash)
                    summary.schema = self.step.as_dict()
                    layout, names = self.step.layout, set(self.step.layout.tables)
                    states, notes = self._states()
                summary.events, summary.newest_event = batch.events, batch.newest
        last_event = (batch.position if batch else position).last if position is not None else 0

        full = {n for n in names if n not in states or not loader_state.covers(states[n].fields_hash, layout[n])}
        scan_due = (force_scan or not self.has_log or rdr.last_scan is None
                    or (started - rdr.last_scan).total_seconds() >= self.options.scan_interval)
        scan: set[str] = set()
        above_max: set[str] = set()
        if scan_due:
            summary.scanned = True
            for n in names - full:
                t = layout[n]
                last_full = states[n].last_full_load
                if t.entity.has_updated_at or last_full is None or \
                        (started - last_full).total_seconds() >= self.options.scan_interval:
                    scan.add(n)
                else:
                    above_max.add(n)
        results: list[EntityResult] = []
        if full or scan:
            summary_load = load(self.engine, self._subset(layout, full | scan), self.source, self._load_opts(),
                                after=self._after(last_event, "scan"))
            results += summary_load.entities
        changed: dict[str, Changes] = {}
        for n in names - full:
            ids = set(batch.changed.get(n, ())) if batch else set()
            ids |= cursor.pending(notes, n)
            if ids or n in above_max:
                changed[n] = Changes(ids=frozenset(ids), above_max_id=n in above_max)
        if changed:
            results += apply_changes(self.engine, layout, self.source, changed, self._load_opts(),
                                     after=self._after(last_event, "events")).entities
        summary.entities = sorted(results, key=lambda e: (e.entity, e.mode))

        failed = [r for r in summary.entities if r.error]
        if failed or (position is not None and (batch is None or batch.position != position)) or summary.scanned \
                or self.step.digest != rdr.schema_hash:
            with self.engine.begin() as conn:
                for r in failed:
                    retry = set(changed[r.entity].ids) if r.entity in changed else set()
                    cursor.write_failure(conn, self.table, r.entity, r.error or "", retry)
                if position is not None:
                    newest = summary.newest_event if summary.newest_event is not None else rdr.newest or 0
                    extra: dict[str, Any] = {"schema_hash": self.step.digest}
                    if summary.scanned:
                        extra["last_scan"] = started
                    cursor.write_reader(conn, self.table, batch.position if batch else position, newest, **extra)
        summary.cursor = last_event if self.has_log else None
        summary.seconds = time.perf_counter() - t0
        return summary


def watch(syncer: Syncer, interval: float, report: Callable[[CycleSummary], None], *,
          stop: threading.Event | None = None, heartbeat: float = 60.0) -> int:
    """Cycle every ``interval`` seconds until SIGTERM/SIGINT (the cycle under way finishes first).

    Returns the number of cycles run. A heartbeat line goes to the log every ``heartbeat`` seconds.
    """
    stop = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.warning("sync: %s received, stopping after this cycle", signal.Signals(signum).name)
        stop.set()

    in_main = threading.current_thread() is threading.main_thread()   # only the main thread may set handlers
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)} if in_main else {}
    cycles, last_beat = 0, time.monotonic()
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            summary = syncer.cycle()
            cycles += 1
            report(summary)
            if time.monotonic() - last_beat >= heartbeat:
                last_beat = time.monotonic()
                log.warning("sync: alive, %d cycles, event cursor %s, newest event %s", cycles, summary.cursor,
                            summary.newest_event)
            stop.wait(max(0.0, interval - (time.monotonic() - t0)))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    log.warning("sync: stopped cleanly after %d cycles", cycles)
    return cycles
