"""Orchestration: one transaction per entity, entities in parallel, pages pipelined.

Per entity, in ONE database transaction:

* full reload (first load, ``--full-refresh``, a changed set of fields, or an entity without ``updated_at``):
  empty the table, stream every live page then every retired page into it (plain bulk insert), write the
  sync state;
* incremental: upsert the live records with ``updated_at`` after the high-water mark minus the overlap, then
  reconcile retirements (see :func:`_reconcile_retired`), write the sync state.

A crash anywhere rolls the whole entity back: the re-run starts from the last committed state and ends
with exactly the source's rows. Pages stream through (fetch, convert, write, forget), so memory does not
grow with the table.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import datetime as dt
import functools
import gc
import itertools
import logging
import operator
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from sg2dbt.core.convert import Record, Row, RowConverter
from sg2dbt.core.database import ddl_lock, raw_schema_for
from sg2dbt.core.dialects import capabilities
from sg2dbt.core.errors import LoadError, Sg2dbtError, ValueFitError, first_line
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA, RawLayout, RawTable, Role
from sg2dbt.core.secrets import redact
from sg2dbt.core.values import to_id
from sg2dbt.loader import duckdb_bulk
from sg2dbt.loader import state as sync
from sg2dbt.loader.reader import PAGE_SIZE, DumpSource, SiteSource, Source, chunks, prefetch
from sg2dbt.loader.writers import DuckDBWriter, Writer, json_as_text, writer_for

log = logging.getLogger(__name__)
_T = TypeVar("_T")

UTC = dt.timezone.utc
DEFAULT_OVERLAP = dt.timedelta(minutes=5)
DEFAULT_LOCK_TIMEOUT = 600.0


@dataclass(frozen=True)
class LoadOptions:
    raw_schema: str | None = DEFAULT_RAW_SCHEMA
    full_refresh: bool = False
    workers: int = 4
    overlap: dt.timedelta = DEFAULT_OVERLAP
    prefetch: bool = True
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT   # seconds to wait for another loader's entity lock


@dataclass
class EntityResult:
    entity: str
    table: str
    mode: str = ""                  # "full" or "incremental"
    rows: int = 0                   # rows written (inserted or upserted) in this run
    retired: int = 0                # newly flagged retired (incremental) or loaded retired (full)
    revived: int = 0
    deleted: int = 0
    rows_live: int = 0              # table contents after the run
    rows_retired: int = 0
    seconds: float = 0.0
    error: str | None = None


class EntityResults:
    """What a run's summary reads off its per-entity results (a load's, a sync cycle's)."""

    entities: list[EntityResult]

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities)

    @property
    def failed(self) -> list[EntityResult]:
        return [e for e in self.entities if e.error]


@dataclass
class LoadSummary(EntityResults):
    source: str
    started_at: str
    seconds: float = 0.0
    entities: list[EntityResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "started_at": self.started_at, "seconds": round(self.seconds, 3),
                "rows": self.rows, "failed": len(self.failed),
                "entities": [asdict(e) | {"seconds": round(e.seconds, 3)} for e in self.entities]}


ProgressHook = Callable[[str, str, int], None]   # (entity, event: "start"/"rows"/"done", count)


def _no_progress(entity: str, event: str, count: int) -> None:
    pass


def _db_error(entity: str, exc: BaseException) -> LoadError:
    """A database failure as one line: drivers' messages run on over many lines of context."""
    return LoadError(f"entity {entity!r}: database error: {type(exc).__name__}: {first_line(exc)}")


_HOLDER = sa.text("""
    select a.pid, a.application_name, a.client_addr, a.usename, a.xact_start
    from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.objsubid = 1
      and l.classid::bigint = ((hashtext(:key)::bigint >> 32) & 4294967295)
      and l.objid::bigint = (hashtext(:key)::bigint & 4294967295)""")


def _lock_holder(conn: sa.Connection, key: dict[str, str]) -> str:
    """Who holds an entity lock, as PostgreSQL's activity view tells it."""
    row = conn.execute(_HOLDER, key).first()
    if row is None:
        return "its holder has just finished (run again)"
    since = f", transaction started {row.xact_start:%Y-%m-%d %H:%M:%S %Z}" if row.xact_start else ""
    return (f"held by PostgreSQL backend pid {row.pid} (application {row.application_name or '-'!r}, "
            f"user {row.usename!r}, client {row.client_addr or 'local socket'}{since})")


def _too_wide(metadata: sa.MetaData) -> dict[str, str]:
    """Entities whose tables the database cannot hold (not created by :func:`prepare`), and why."""
    from sg2dbt.emit.rawdb import TOO_WIDE

    wide: dict[str, str] = metadata.info[TOO_WIDE]
    return wide


def prepare(engine: sa.Engine, layout: RawLayout, schema: str | None) -> tuple[sa.MetaData, sa.Table]:
    """Create the raw schema, any missing raw tables and the sync table (existing ones are left alone).

    Returns the metadata of the raw tables and the sync table.
    """
    from sg2dbt.emit.rawdb import create_raw_tables

    metadata = create_raw_tables(layout, engine, schema)
    state_table = sync.sync_table(metadata, schema)
    try:
        with engine.begin() as conn:
            ddl_lock(conn, schema)   # loaders started together on a fresh database: one creates, the others see
            metadata.create_all(conn, tables=[state_table])
    except sa.exc.SQLAlchemyError as exc:
        raise LoadError(f"cannot create the sync table: {first_line(exc)}") from None
    return metadata, state_table


def _minus(mark: dt.datetime, overlap: dt.timedelta) -> dt.datetime:
    """``mark - overlap``, or the earliest datetime when the overlap reaches back past it."""
    try:
        return mark - overlap
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=UTC)


_first = operator.itemgetter(0)
_not_none = functools.partial(operator.is_not, None)


class _PassIds:
    """The ids one pass has written, to refuse a record that comes twice (a damaged or concatenated dump).

    Sites and ``sg2dbt dump`` serve each page in ascending id order, and a range-split scan interleaves the
    pages of disjoint ranges: each page extends the run (an array of 8-byte ids) whose last id is the
    largest below the page's first, so a pass costs 8 bytes an id in a handful of runs (one per range), and a
    page is checked against a run only where the run has ids inside the page's span. Only a page that is
    not itself ascending switches to a set.
    """

    def __init__(self) -> None:
        self._runs: list[array.array[int]] = []
        self._set: set[int] | None = None

    def add_all(self, ids: list[int]) -> int | None:
        """Record ``ids``; return the first one already recorded (None if all are new)."""
        if not ids:
            return None
        if self._set is None:
            if all(map(operator.lt, ids, itertools.islice(ids, 1, None))):
                return self._add_ascending(ids)
            self._set = {rid for run in self._runs for rid in run}
            self._runs = []
        for rid in ids:
            if rid in self._set:
                return rid
            self._set.add(rid)
        return None

    def _add_ascending(self, ids: list[int]) -> int | None:
        first, last = ids[0], ids[-1]
        for run in self._runs:
            lo, hi = bisect.bisect_left(run, first), bisect.bisect_right(run, last)
            if lo < hi:   # the run holds ids inside this page's span: look at each
                held = set(run[lo:hi])
                dup = next((rid for rid in ids if rid in held), None)
                if dup is not None:
                    return dup
        below = [run for run in self._runs if run[-1] < first]
        if below:
            max(below, key=lambda run: run[-1]).extend(ids)
        else:
            self._runs.append(array.array("q", ids))
        return None

    def __contains__(self, rid: int) -> bool:
        if self._set is not None:
            return rid in self._set
        for run in self._runs:
            i = bisect.bisect_left(run, rid)
            if i < len(run) and run[i] == rid:
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self._runs) or bool(self._set)


class _EntityLoad:
    """The work for one entity on one connection; see the module docstring for the two modes."""

    def __init__(self, conn: sa.Connection, source: Source, raw: RawTable, table: sa.Table,
                 state_table: sa.Table, options: LoadOptions, progress: ProgressHook, *, sql_path: bool = True) -> None:
        self.conn = conn
        self.sql_path = sql_path
        self.source = source
        self.raw = raw
        self.entity = raw.entity.name
        self.state_table = state_table
        self.options = options
        self.progress = progress
        self.conv = RowConverter(raw, json_as_text=json_as_text(conn.dialect))
        self.writer: Writer = writer_for(conn, table, self.conv.columns)
        self.fields = list(self.conv.fields)
        self.loaded_at = dt.datetime.now(UTC)
        updated = raw.fields.get("updated_at")
        self.updated_idx = (self.conv.columns.index(updated.column(Role.VALUE))
                            if updated is not None and raw.entity.has_updated_at else None)
        self.max_seen: dt.datetime | None = None

    def run(self, result: EntityResult) -> None:
        self._lock()
        previous = sync.read(self.conn, self.state_table, self.entity)
        started = dt.datetime.now(UTC)
        as_of = self.source.as_of(self.entity)
        incremental = (not self.options.full_refresh and previous is not None and self.updated_idx is not None
                       and previous.high_water is not None and sync.covers(previous.fields_hash, self.raw))
        counted = False
        if incremental:
            assert previous is not None and previous.high_water is not None
            result.mode = "incremental"
            self._incremental(_minus(previous.high_water, self.options.overlap), result)
        else:
            result.mode = "full"
            counted = self._full(result)
        if not counted:
            result.rows_live, result.rows_retired = self.writer.counts()
        # High-water mark: the newest updated_at seen, but never later than the moment the source's records
        # were read (this pass's start on a site, the dump's start from its manifest), so a record changed
        # while they were read (below the keyset cursor) is read again next time. A dump that does not say
        # when it was taken advances no mark: the next load reads everything again rather than skip a record.
        high_water = previous.high_water if incremental and previous else None
        if self.max_seen is not None and as_of is not None:
            candidate = min(self.max_seen, as_of)
            high_water = candidate if high_water is None else max(high_water, candidate)
        sync.write(self.conn, self.state_table, sync.SyncState(
            entity=self.entity, table_name=self.raw.name, high_water=high_water,
            last_full_load=started if not incremental else (previous.last_full_load if previous else None),
            last_sync=started, fields_hash=sync.fields_hash(self.raw), rows_live=result.rows_live,
            rows_retired=result.rows_retired))

    def _lock(self) -> None:
        """Two loaders on one PostgreSQL warehouse (an overrunning cron job): the second waits for the first,
        entity by entity, then starts from the state the first committed; after ``lock_timeout`` seconds it
        fails the entity, naming the holder. DuckDB and SQLite lock the whole file."""
        if not capabilities(self.conn.dialect).advisory_locks:
            return
        key = {"key": f"sg2dbt load {self.state_table.schema}.{self.raw.name}"}
        try_lock = sa.text("select pg_try_advisory_xact_lock(hashtext(:key))")
        deadline = time.monotonic() + self.options.lock_timeout
        delay = 0.05
        while not self.conn.execute(try_lock, key).scalar():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoadError(f"entity {self.entity!r}: waited --lock-timeout ({self.options.lock_timeout:g} s) "
                                f"for another loader of it, {_lock_holder(self.conn, key)}; this run "
                                f"changed nothing of it")
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)

    def close(self) -> None:
        """Release the writer's resources, however the run ended (the writer exists from the start)."""
        self.writer.close()

    def _fetched(self, pages: Iterator[_T]) -> Iterator[_T]:
        """``pages`` fetched ahead on a thread where the source waits on a network (the writes overlap it)."""
        return prefetch(pages) if self.options.prefetch and self.source.io_bound else pages

    def _live_then_retired(self) -> Iterator[tuple[bool, list[Record]]]:
        """Every live page, then every retired page, fetched as one stream: the retired pass's first request
        goes out once the live pass's last reply is in (a later read of every record, as the rule wants),
        not once the live pages are written."""
        def both() -> Iterator[tuple[bool, list[Record]]]:
            for retired in (False, True):
                for page in self.source.pages(self.entity, self.fields, retired=retired):
                    yield retired, page

        return self._fetched(both())

    def _convert(self, page: list[Record], retired: bool, seen: _PassIds) -> list[Row]:
        rows = self.conv.rows(page, retired, self.loaded_at)
        twice = seen.add_all(list(map(_first, rows)))
        if twice is not None:
            raise ValueFitError(self.entity, twice, "id", f"the record appears twice among the "
                                f"{'retired' if retired else 'live'} records read in one pass; which copy is "
                                f"current cannot be told, so nothing of this entity was stored")
        if self.updated_idx is not None and not retired:
            newest = max(filter(_not_none, map(operator.itemgetter(self.updated_idx), rows)), default=None)
            if newest is not None and (self.max_seen is None or newest > self.max_seen):
                self.max_seen = newest
        return rows

    def _write(self, write: Callable[[list[Row]], None], page: list[Record], rows: list[Row]) -> None:
        try:
            write(rows)
        except Sg2dbtError:
            raise
        except Exception as exc:  # noqa: BLE001 - drivers raise their own types (and OverflowError, ...)
            raise self._explain_db_error(page, exc) from None
        self.progress(self.entity, "rows", len(rows))

    def _explain_db_error(self, page: list[Record], exc: BaseException) -> Sg2dbtError:
        """A database refusal of a page: name the record and field when a strict check can find it."""
        for rec in page:
            found = self.conv.explain(rec)
            if found is not None:
                return found
        return _db_error(self.entity, exc)

    def _full(self, result: EntityResult) -> bool:
        """Every live then every retired record replaces the table's rows; True when the table's live and
        retired counts are known from what was written (it was emptied first), without a scan of it.

        A record read in both passes (retired between them) is stored as the later, retired read. When the
        table has columns this load does not write (``--ignore-field``, a field gone from the schema), the
        rows are upserted and the ids the source no longer has deleted, so those columns keep their values
        instead of being emptied with the table.
        """
        keep = self._unwritten_columns()
        if keep:
            log.info("%s: full reload keeps the columns it does not write: %s", self.entity, ", ".join(keep))
        else:
            self.writer.delete_all()
            if self.sql_path and duckdb_bulk.applies(self.source, self.writer) and self._full_sql(result):
                return False
        live, retired_ids = _PassIds(), _PassIds()
        late: list[Row] = []
        with self._bulk(upsert=bool(keep)) as put:
            for retired, page in self._live_then_retired():
                rows = self._convert(page, retired, retired_ids if retired else live)
                if retired and live:
                    again = [r for r in rows if r[0] in live]
                    if again:
                        late += again
                        rows = [r for r in rows if r[0] not in live]
                self._write(put, page, rows)
                result.rows += len(rows)
                if retired:
                    result.retired += len(rows)
        if late:
            self._write(self.writer.upsert, [], late)
            result.rows += len(late)
            result.retired += len(late)
        if keep:
            existing: list[int] = list(self.conn.scalars(sa.select(self.writer.id_col)))
            gone = [i for i in existing if i not in live and i not in retired_ids]
            for ids in chunks(gone):
                self.writer.delete_ids(ids)
            result.deleted += len(gone)
            return False
        # the live rows less those stored retired after all (late), and every retired one
        result.rows_live, result.rows_retired = result.rows - result.retired - len(late), result.retired
        return True

    def _full_sql(self, result: EntityResult) -> bool:
        """The dump's files straight into DuckDB (:mod:`sg2dbt.loader.duckdb_bulk`); False if they cannot be."""
        assert isinstance(self.source, DumpSource) and isinstance(self.writer, DuckDBWriter)
        files = duckdb_bulk.dump_files(self.source, self.entity)
        if files is None:
            return False
        for retired, path in files:
            n = self._insert_file(path, retired)
            self.source.check_count(self.entity, retired, path, n)
            result.rows += n
            if retired:
                result.retired += n
            elif self.updated_idx is not None:
                self.max_seen = duckdb_bulk.newest(self.writer, self.conv.columns[self.updated_idx])
        return True

    def _insert_file(self, path: Path, retired: bool) -> int:
        """One dump file through DuckDB's SQL path: the unit of work a page is on the row path."""
        assert isinstance(self.writer, DuckDBWriter)
        n = duckdb_bulk.insert_file(self.writer, self.raw, path, retired=retired, loaded_at=self.loaded_at)
        self.progress(self.entity, "rows", n)
        return n

    def _unwritten_columns(self) -> list[str]:
        """Columns of the database table that this load's layout does not fill."""
        present = self.conn.exec_driver_sql(f"SELECT * FROM {self.writer.q_table} WHERE 1 = 0").keys()
        written = {c.name for c in self.conv.columns}
        return [name for name in present if name not in written]

    def _incremental(self, since: dt.datetime, result: EntityResult) -> None:
        flagged = self.writer.flagged_ids()   # before the live pass, which un-flags revived records it reads
        seen = _PassIds()
        with self._bulk(upsert=True) as put:
            for page in self._fetched(self.source.pages(self.entity, self.fields, since=since)):
                rows = self._convert(page, False, seen)
                self._write(put, page, rows)
                result.rows += len(rows)
        self._reconcile_retired(flagged, result)

    @contextlib.contextmanager
    def _bulk(self, upsert: bool) -> Iterator[Callable[[list[Row]], None]]:
        """The writer's bulk sink; a refusal that surfaces only when the pass completes is reported too."""
        passed = False   # errors from the caller's block pass through; only the completing write is ours
        try:
            with self.writer.bulk(upsert) as put:
                yield put
                passed = True
        except Sg2dbtError:
            raise
        except Exception as exc:
            if not passed:
                raise
            raise _db_error(self.entity, exc) from None

    def _reconcile_retired(self, flagged: set[int], result: EntityResult) -> None:
        """Compare the site's retired ids with the rows flagged retired; fetch only the differences.

        Retiring or reviving a record is not guaranteed to move ``updated_at``, so the incremental pass
        cannot see it. Ids alone are cheap to list (one small page per 500 retired records); the full
        records are fetched only for ids that changed side: newly retired ones are upserted flagged, revived
        ones are re-read live and upserted unflagged, and a flagged id that is neither retired nor live any
        more (deleted for good) loses its row.
        """
        site_retired = {self._retired_id(r) for page in self.source.pages(self.entity, ["id"], retired=True)
                        for r in page}
        for ids in chunks(sorted(site_retired - flagged)):
            result.retired += self._refetch(ids, retired=True, result=result)
        for ids in chunks(sorted(flagged - site_retired)):
            result.revived += self._refetch(ids, retired=False, result=result)

    def _retired_id(self, record: Any) -> int:
        if not isinstance(record, dict):
            raise ValueFitError(self.entity, None, "*", f"retired record is a {type(record).__name__}, not a mapping")
        rid = record.get("id")
        try:
            return to_id(rid)
        except (TypeError, ValueError) as exc:
            raise ValueFitError(self.entity, rid, "id", f"retired record: {exc}") from None

    def _refetch(self, ids: list[int], *, retired: bool, result: EntityResult) -> int:
        """Fetch these records (retired or live) and upsert them; ids found on neither side lose their row."""
        page = self.source.by_ids(self.entity, self.fields, ids, retired=retired)
        rows = self._convert(page, retired, _PassIds())
        self._write(self.writer.upsert, page, rows)
        result.rows += len(rows)
        if not retired:
            gone = sorted(set(ids) - {r[0] for r in rows})
            self.writer.delete_ids(gone)
            result.deleted += len(gone)
        return len(rows)

    def apply(self, changes: Changes, result: EntityResult) -> None:
        """Re-read the changed records (and the new ones above the highest id) and upsert them."""
        self._lock()
        previous = sync.read(self.conn, self.state_table, self.entity)
        if previous is None:
            raise LoadError(f"entity {self.entity!r}: never loaded; load it in full first")
        result.mode = "changes"
        started = dt.datetime.now(UTC)
        ids = sorted(changes.ids)
        for chunk in chunks(ids):
            page = self.source.by_ids(self.entity, self.fields, chunk, retired=False)
            self._write(self.writer.upsert, page, self._convert(page, False, _PassIds()))
            result.rows += len(page)
            missing = sorted(set(chunk) - {r.get("id") for r in page if isinstance(r, dict)})
            if missing:
                gone = set(missing) - {r[0] for r in self._retired_rows(missing, result)}
                self.writer.delete_ids(sorted(gone))
                result.deleted += len(gone)
        if changes.above_max_id:
            self._above_max_id(result)
        result.rows_live, result.rows_retired = self.writer.counts()
        sync.write(self.conn, self.state_table, sync.SyncState(
            entity=self.entity, table_name=self.raw.name, high_water=previous.high_water,
            last_full_load=previous.last_full_load, last_sync=started, fields_hash=previous.fields_hash,
            rows_live=result.rows_live, rows_retired=result.rows_retired))

    def _retired_rows(self, ids: list[int], result: EntityResult) -> list[Row]:
        page = self.source.by_ids(self.entity, self.fields, ids, retired=True)
        rows = self._convert(page, True, _PassIds())
        self._write(self.writer.upsert, page, rows)
        result.rows += len(rows)
        result.retired += len(rows)
        return rows

    def _above_max_id(self, result: EntityResult) -> None:
        """New records of an entity without ``updated_at``: those above the table's highest id."""
        assert isinstance(self.source, SiteSource)   # apply_changes reads a site
        find = self.source.find
        last = self.conn.scalar(sa.select(sa.func.max(self.writer.id_col))) or 0
        seen = _PassIds()
        while True:
            page = find(self.entity, [["id", "greater_than", last]], self.fields,
                        order=[{"field_name": "id", "direction": "asc"}], limit=PAGE_SIZE)
            page = sorted(page, key=operator.itemgetter("id"))[:PAGE_SIZE]
            if not page:
                return
            self._write(self.writer.upsert, page, self._convert(page, False, seen))
            result.rows += len(page)
            last = page[-1]["id"]
            if len(page) < PAGE_SIZE:
                return


SchemaCheck = Callable[[RawLayout, sa.Engine, "str | None"], None]
# Called inside an entity's transaction once its rows and state are written (``sg2dbt sync`` stores its event
# cursor there, so the cursor and the rows it covers commit together).
AfterEntity = Callable[[sa.Connection, EntityResult], None]


def load(engine: sa.Engine, layout: RawLayout, source: Source, options: LoadOptions | None = None,
         progress: ProgressHook = _no_progress, check: SchemaCheck | None = None,
         after: AfterEntity | None = None) -> LoadSummary:
    """Load every entity of ``layout`` from ``source``; failures are per entity and listed in the summary.

    ``check`` runs once the raw tables exist, before any row moves: the command layer passes the schema
    drift check (:func:`sg2dbt.evolve.migrate.require_no_drift`), which the loader itself does not import.

    One entity's failure (a value that does not fit, a site error) rolls back that entity only; the others
    still load. The caller decides what a failure means for the exit status.
    """
    options = options or LoadOptions()
    caps = capabilities(engine.dialect)
    raw_schema = raw_schema_for(engine, options.raw_schema) if caps.schemas else None
    metadata, state_table = prepare(engine, layout, raw_schema)
    too_wide = _too_wide(metadata)
    if check is not None:   # e.g. columns the schema gained or retyped: name the fix
        check(replace(layout, tables={k: v for k, v in layout.tables.items() if k not in too_wide}), engine,
              raw_schema)

    def work(conn: sa.Connection, raw: RawTable, table: sa.Table, result: EntityResult, sql_path: bool) -> None:
        with contextlib.closing(_EntityLoad(conn, source, raw, table, state_table, options, progress,
                                            sql_path=sql_path)) as job:
            job.run(result)

    return _each_entity(engine, layout, source, metadata, options, progress, work, after)


GC_YOUNG_THRESHOLD = 50_000   # allocations between young collections while entities load (Python's is 700)


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cycle collector run less often while entities load.

    A page of 500 records is some 30,000 new dicts, lists and strings, and with the pages queued by the
    fetching threads hundreds of thousands are alive at once: at the default threshold the collector runs
    every 700 allocations and, now and then, over all of them, for about a fifth of the loader's CPU on a
    live site (bench/bench_live.py), finding nothing: records are trees, not cycles. The threshold is
    raised for the load and restored after it (process-wide: a load running beside this one is collected
    less often too, which only delays the collection of cycles). Loads that overlap in one process share
    the change: the first one in raises the threshold, the last one out puts back what it found."""
    global _gc_saved, _gc_users
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], GC_YOUNG_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = gc.get_threshold()


def _each_entity(engine: sa.Engine, layout: RawLayout, source: Source, metadata: sa.MetaData,
                 options: LoadOptions, progress: ProgressHook,
                 work: Callable[[sa.Connection, RawTable, sa.Table, EntityResult, bool], None],
                 after: AfterEntity | None) -> LoadSummary:
    """Run ``work`` for every entity of ``layout``, each in its own transaction, in parallel (``work``'s last
    argument: whether DuckDB's SQL path may read a dump; an entity it declines runs again without it)."""
    too_wide = _too_wide(metadata)
    sa_tables = {t.info["sg_entity"]: t for t in metadata.tables.values() if "sg_entity" in t.info}
    summary = LoadSummary(source=source.label, started_at=dt.datetime.now(UTC).isoformat())
    t0 = time.perf_counter()
    # One writer at a time (SQLite): parallel workers would only wait on its lock.
    workers = max(1, options.workers) if capabilities(engine.dialect).parallel_writers else 1

    def one(raw: RawTable) -> EntityResult:
        result = EntityResult(entity=raw.entity.name, table=raw.name, error=too_wide.get(raw.entity.name))
        if result.error:
            return result
        started = time.perf_counter()
        progress(result.entity, "start", 0)

        def attempt(result: EntityResult, sql_path: bool) -> None:
            with engine.connect() as conn, conn.begin():
                work(conn, raw, sa_tables[raw.entity.name], result, sql_path)
                if after is not None:
                    after(conn, result)

        try:
            try:
                attempt(result, sql_path=True)
            except duckdb_bulk.SqlPathRefused as exc:   # rolled back: the row path coerces or names the value
                log.info("%s: DuckDB's SQL path declined (%s); loading through the row path", raw.entity.name, exc)
                result = EntityResult(entity=raw.entity.name, table=raw.name)
                attempt(result, sql_path=False)
        except Sg2dbtError as exc:
            result.error = redact(str(exc))
        except sa.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            result.error = redact(str(_db_error(raw.entity.name, cause)))
        result.seconds = time.perf_counter() - started
        if result.error:
            log.info("%s", result.error)   # the caller reports failures (the CLI: one line each)
        progress(result.entity, "done", result.rows)
        return result

    with _few_collections(), ThreadPoolExecutor(max_workers=min(workers, max(1, len(layout.tables))),
                                                thread_name_prefix="sg2dbt-load") as pool:
        futures = [pool.submit(one, raw) for raw in layout]
        for fut in as_completed(futures):   # collected on this thread alone: no lock needed
            summary.entities.append(fut.result())
    summary.entities.sort(key=lambda e: e.entity)
    summary.seconds = time.perf_counter() - t0
    return summary


@dataclass(frozen=True)
class Changes:
    """What ``sg2dbt sync`` knows changed in one entity: records to re-read by id (live, else retired, else gone)
    and, for an entity without ``updated_at``, whether to read the records above the table's highest id."""

    ids: frozenset[int] = frozenset()
    above_max_id: bool = False


def apply_changes(engine: sa.Engine, layout: RawLayout, source: SiteSource, changes: dict[str, Changes],
                  options: LoadOptions | None = None, after: AfterEntity | None = None) -> LoadSummary:
    """Bring the rows of the records named in ``changes`` up to the site, entity by entity, one transaction
    each (rows, sync state and whatever ``after`` writes commit together).

    Only entities already loaded in full with the current fields may be given (the caller loads the others with
    :func:`load`). Each entity costs one ``find`` by ids per page of 500 changed records, plus one for those not
    found live (retired since: stored flagged; found on neither side: deleted), plus the pages above the
    highest id when asked.
    """
    options = options or LoadOptions()
    raw_schema = raw_schema_for(engine, options.raw_schema) if capabilities(engine.dialect).schemas else None
    selected = RawLayout(layout.schema, {name: t for name, t in layout.tables.items() if name in changes})
    metadata, state_table = prepare(engine, selected, raw_schema)

    def work(conn: sa.Connection, raw: RawTable, table: sa.Table, result: EntityResult, sql_path: bool) -> None:
        with contextlib.closing(_EntityLoad(conn, source, raw, table, state_table, options, _no_progress)) as job:
            job.apply(changes[raw.entity.name], result)

    return _each_entity(engine, selected, source, metadata, options, _no_progress, work, after)
