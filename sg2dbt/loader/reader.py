"""Where records come from: a live site (``shotgun_api3.Shotgun`` or Mockgun) or an offline dump.

Both serve pages of ``find()``-shaped records. A site is read by keyset paging on id
(``["id", "greater_than", last_id]``, ordered by id): it works on real SG, whose pages hold 500 records, and on
Mockgun, which ignores ``limit`` and returns everything in one page (split here into pages, so writers never
see more than a page at a time). A dump is one file per entity, read as a stream.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import logging
import operator
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sg2dbt.core import jsonread
from sg2dbt.core.convert import Record
from sg2dbt.core.errors import LoadError, ValueFitError
from sg2dbt.core.secrets import redacted_first_line
from sg2dbt.core.values import to_utc
from sg2dbt.loader import dump as dump_format
from sg2dbt.loader import ranges

log = logging.getLogger(__name__)

T = TypeVar("T")
PAGE_SIZE = 500   # real SG's api_max_entities_per_page
_ID_ORDER = [{"field_name": "id", "direction": "asc"}]
_record_id = operator.itemgetter("id")


class Source(Protocol):
    """What the loader reads records from."""

    label: str
    io_bound: bool   # fetching waits on the network: worth a prefetch thread (CPU-bound sources are not)

    def pages(self, entity: str, fields: list[str], *, since: dt.datetime | None = None,
              retired: bool = False) -> Iterator[list[Record]]:
        """Live (or, with ``retired``, only retired) records of ``entity``, updated after ``since``."""

    def by_ids(self, entity: str, fields: list[str], ids: list[int], *, retired: bool) -> list[Record]:
        """The records among ``ids`` (at most a page of them) that exist, live or retired."""

    def as_of(self, entity: str) -> dt.datetime | None:
        """When the records that a pass starting now reads were (at the latest) taken from the site; None
        when nobody knows (a dump without a manifest). The high-water mark never passes it."""


def chunks(items: list[int], size: int = PAGE_SIZE) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient site failures.

    shotgun_api3 already retries 502/504 three times itself; this layer adds 503 (maintenance), other 5xx,
    timeouts and dropped connections, which it does not retry.
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def _is_transient(exc: BaseException) -> bool:
    import shotgun_api3

    if isinstance(exc, shotgun_api3.ProtocolError):
        return int(getattr(exc, "errcode", 0) or 0) >= 500
    # OSError covers timeouts (socket.timeout is TimeoutError), dropped connections and other socket errors.
    return isinstance(exc, (OSError, http.client.HTTPException))


def _is_auth_failure(exc: BaseException) -> bool:
    import shotgun_api3

    return isinstance(exc, shotgun_api3.AuthenticationFault)


class SiteSource:
    """A live site. ``connect`` makes a connection; ``Shotgun`` objects are not thread-safe, so each call
    borrows one from a pool and gives it back: as many connections as calls run at once (one per worker or
    range), kept for the life of the source. A new connection per pass or per prefetch thread would cost an
    ``info`` request each (shotgun_api3 asks for the server's capabilities on first use). For Mockgun, return
    the same instance: it keeps its records in memory.

    The request cap counts HTTP requests: on a shotgun_api3 connection it holds a slot from the request's
    send to the last byte of its reply (every request: ``info``, shotgun_api3's own retries), so decoding a
    page of 500 records does not keep a request slot idle; a connection that speaks no HTTP (Mockgun, a
    test's double) holds one for each whole call.
    """

    io_bound = True

    def __init__(self, connect: Callable[[], Any], *, label: str = "site", page_size: int = PAGE_SIZE,
                 retry: RetryPolicy | None = None, max_requests: int = ranges.DEFAULT_MAX_REQUESTS) -> None:
        self.label = label
        self._connect = connect
        self._idle: list[Any] = []
        self._idle_lock = threading.Lock()
        self._caps: Any = None
        self._http_capped: weakref.WeakSet[Any] = weakref.WeakSet()
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.cap = ranges.RequestCap(max_requests)
        self.ranges = 0   # ranges read by the passes so far (pages + ranges + 2 bounds a pass's requests)

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection of the pool for the block; one that failed (the block raised) is not reused.

        A connection the pool adds later (a range scan, another worker) is handed the server capabilities the
        first one asked for, so it does not spend an ``info`` request of its own (shotgun_api3 keeps them in
        ``_server_caps``; a connection to another host asks again)."""
        with self._idle_lock:
            sg = self._idle.pop() if self._idle else None
        if sg is None:
            sg = self._connect()
            if self._caps is not None and getattr(sg, "_server_caps", False) is None:
                sg._server_caps = self._caps
            self._cap_http(sg)
        yield sg   # not returned to the pool when the block raises: a fresh connection after a failure
        with self._idle_lock:
            self._idle.append(sg)
            if self._caps is None:
                self._caps = getattr(sg, "_server_caps", None)

    def _cap_http(self, sg: Any) -> None:
        send = getattr(sg, "_http_request", None)
        if send is None or sg in self._http_capped:
            return
        cap = self.cap

        def http_request(*args: Any, **kw: Any) -> Any:
            with cap():
                return send(*args, **kw)

        sg._http_request = http_request
        self._http_capped.add(sg)

    def _server_caps(self) -> None:
        """The server's capabilities fetched once (shotgun_api3's ``info``) before two requests go out at once
        on two new connections, which would otherwise each ask for them."""
        if self._caps is None:
            with self.connection() as sg:
                if sg in self._http_capped:
                    sg.server_caps  # noqa: B018 - the property asks the server on first use

    def find(self, entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[Record]:
        """One ``find`` with the source's retries (for callers beyond the loader's paging: the event log)."""
        return self._find(entity, filters, fields, **kw)

    def _find(self, entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[Record]:
        for attempt in range(1, self.retry.attempts + 1):
            try:
                with self.connection() as sg, (contextlib.nullcontext() if sg in self._http_capped else self.cap()):
                    result: list[Record] = sg.find(entity, filters, fields, **kw)
                return result
            except Exception as exc:  # noqa: BLE001 - sorted into transient, auth and other below
                if _is_auth_failure(exc):
                    raise LoadError(f"{self.label}: authentication failed (check the script name and key, "
                                    f"or login and password)") from None
                if not _is_transient(exc) or attempt == self.retry.attempts:
                    raise LoadError(f"{self.label}: find {entity} failed after {attempt} attempt(s): "
                                    f"{type(exc).__name__}: {redacted_first_line(exc)}") from None
                wait = self.retry.delay(attempt)
                log.warning("%s: find %s: %s, retrying in %.1fs (attempt %d of %d)", self.label, entity,
                            type(exc).__name__, wait, attempt, self.retry.attempts)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def check(self, entity: str) -> None:
        """One small call, so bad credentials or a wrong URL fail once, before any work starts."""
        self._find(entity, [], ["id"], limit=1)

    def pages(self, entity: str, fields: list[str], *, since: dt.datetime | None = None,
              retired: bool = False, ordered: bool = False) -> Iterator[list[Record]]:
        """Every record of the pass in pages, each in ascending id order. The first page is read as one keyset
        scan reads it; when it is full, the rest of the id span is split into ranges read at once
        (:mod:`sg2dbt.loader.ranges`), whose pages arrive interleaved. ``ordered``: one scan, every page in
        id order (``sg2dbt dump`` writes files sorted by id, byte-identical for an unchanged site).

        A full live pass sends the probe for the largest id with its first page (a round trip saved where
        it matters: a full load reads every record; a small entity pays one request more). An incremental
        or retired pass, usually one short page, probes only after a full one."""
        base = [["updated_at", "greater_than", since]] if since is not None else []

        def find(last: int, end: int | None) -> list[Record]:
            bounds = [["id", "greater_than", last]] + ([["id", "less_than", end + 1]] if end is not None else [])
            return self._find(entity, [*base, *bounds], fields, order=_ID_ORDER, limit=self.page_size,
                              retired_only=retired)

        self.ranges += 1   # the first page's
        top: int | None = None
        eager = since is None and not (retired or ordered)
        if eager:
            self._server_caps()
        with ThreadPoolExecutor(1, thread_name_prefix="sg2dbt-probe") as pool:
            probe = pool.submit(self._last_id, entity, base, retired) if eager else None
            first = find(0, None)
            if len(first) >= self.page_size and probe is not None:   # Mockgun: everything, in one page
                top = probe.result()
        first.sort(key=_record_id)
        if len(first) < self.page_size:
            yield from self._chunks(first)
            return
        after = _record_id(first[-1])
        if ordered:
            yield from self._chunks(first)
            for page in ranges.keyset(find, after, None, self.page_size, _record_id):
                yield from self._chunks(page)
            return
        if top is None:
            top = self._last_id(entity, base, retired)
        workers = self.cap.limit * 2
        spans: list[tuple[int, int | None]] = list(ranges.split(after, top, ranges.density(first, _record_id),
                                                                self.page_size, workers))
        # Past the probe's largest id (or the first page's last, when records created since the probe reach
        # past it: the probe may be answered before the first page is read), a range of its own, read first:
        # records created since the probe are read too, and the empty page it usually is is not the last
        # request of the pass. With nothing between the first page and the probe, it is the one request a
        # keyset scan would have ended with.
        spans.insert(0, (max(top, after), None))
        scan = ranges.Scan(find, spans, page_size=self.page_size, record_id=_record_id, workers=workers,
                           depth=self.cap.limit)
        try:
            yield from self._chunks(first)
            for page in scan:
                yield from self._chunks(page)
        finally:
            scan.close()
            self.ranges += scan.ranges

    def _chunks(self, page: list[Record]) -> Iterator[list[Record]]:
        return (page[i:i + self.page_size] for i in range(0, len(page), self.page_size))

    def _last_id(self, entity: str, base: list[Any], retired: bool) -> int:
        """The largest id the pass will read: one request (sorted descending, one record)."""
        top = self._find(entity, base, ["id"], order=[{"field_name": "id", "direction": "desc"}], limit=1,
                         retired_only=retired)
        return _record_id(top[0]) if top else 0

    def by_ids(self, entity: str, fields: list[str], ids: list[int], *, retired: bool) -> list[Record]:
        return self._find(entity, [["id", "in", ids]], fields, retired_only=retired)

    def as_of(self, entity: str) -> dt.datetime | None:
        return dt.datetime.now(dt.timezone.utc)   # live: the pass reads from now on


def _updated_since(entity: str, record: Any, since: dt.datetime) -> bool:
    """The dump's stand-in for SG's ``updated_at greater_than`` filter; a malformed value names its record."""
    if not isinstance(record, dict):
        return True   # the converter names what is wrong with it
    value = record.get("updated_at")
    if value is None:
        return False
    try:
        return to_utc(value) > since
    except (TypeError, ValueError) as exc:
        raise ValueFitError(entity, record.get("id"), "updated_at", str(exc)) from None


class DumpSource:
    """A directory of find()-shaped records: ``<Entity>.jsonl`` (one record a line, streamed) or
    ``<Entity>.json`` (a list), and optionally ``<Entity>.retired.jsonl``/``.json`` for retired records,
    with the ``_manifest.json`` that ``sg2dbt dump`` writes (:mod:`sg2dbt.loader.dump`).

    A file is never taken for more than it is: a missing live file is an error rather than an empty entity
    (a full reload would otherwise empty the table); so is an empty one, unless the manifest says the entity
    has no records; and when the manifest lists the entity, each file must hold exactly the number of records
    it says (a file cut at a line boundary is refused, and the load of that entity rolled back). Datetimes
    may be strings ('2008-06-11 08:48:54+02:00'); the converter parses them.
    """

    io_bound = False   # parsing JSON holds the GIL: a prefetch thread would only contend with conversion

    def __init__(self, directory: str | Path, *, page_size: int = PAGE_SIZE) -> None:
        self.directory = Path(directory)
        self.label = f"dump {self.directory}"
        self.page_size = page_size
        if not self.directory.is_dir():
            raise LoadError(f"{self.label}: not a directory")
        self.manifest = dump_format.read_manifest(self.directory)

    def as_of(self, entity: str) -> dt.datetime | None:
        counts = self.manifest.entities.get(entity) if self.manifest else None
        return counts.started_at if counts else None

    def file(self, entity: str, retired: bool) -> Path | None:
        """The entity's live (or retired) file; None when there is no retired file and none is expected."""
        for suffix in dump_format.SUFFIXES:
            path = self.directory / dump_format.file_name(entity, retired=retired, suffix=suffix)
            if path.is_file():
                return path
        if not retired:
            raise LoadError(f"{self.label}: no {entity}.jsonl or {entity}.json (leave the entity out with --ignore)")
        expected = self._expected(entity, retired)
        if expected:
            raise LoadError(f"{self.label}: no {entity}.retired.jsonl, but the manifest lists {expected} "
                            f"retired records")
        return None

    def _expected(self, entity: str, retired: bool) -> int | None:
        counts = self.manifest.entities.get(entity) if self.manifest else None
        return None if counts is None else counts.retired if retired else counts.live

    def check_count(self, entity: str, retired: bool, path: Path, n: int) -> None:
        """``path`` held ``n`` records: refuse a count the manifest contradicts, or an empty live file that
        no manifest vouches for (shared by the row path and DuckDB's SQL path)."""
        expected = self._expected(entity, retired)
        if expected is not None and n != expected:
            raise LoadError(f"{path}: holds {n} records but the dump's manifest says {expected}; the file is "
                            f"incomplete or was changed (dump again)")
        if expected is None and n == 0 and not retired:
            raise LoadError(f"{path}: no records; an empty file is not taken for an empty entity, because a "
                            f"full reload would empty the table (a dump written by `sg2dbt dump` says how many "
                            f"records each file holds; or leave the entity out with --ignore)")

    def _records(self, entity: str, retired: bool) -> Iterator[Record]:
        path = self.file(entity, retired)
        if path is None:
            return
        n = 0
        for n, rec in enumerate(self._read(path), 1):   # noqa: B007 - n counts the records read
            yield rec
        self.check_count(entity, retired, path, n)

    def _read(self, path: Path) -> Iterator[Any]:
        try:
            if path.suffix == ".json":
                with path.open(encoding="utf-8") as fh:
                    doc = jsonread.loads(fh.read())
                if not isinstance(doc, list):
                    raise LoadError(f"{path}: expected a JSON list of records")
                yield from doc
                return
            with path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, 1):
                    if line.strip():
                        yield _json_line(path, lineno, line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        except RecursionError:
            raise LoadError(f"{path}: JSON nested too deeply") from None
        except UnicodeDecodeError as exc:
            raise LoadError(f"{path}: not UTF-8 text (byte {exc.start} of a line: {exc.reason})") from None
        except OSError as exc:
            raise LoadError(f"{path}: cannot read: {exc.strerror}") from None

    def pages(self, entity: str, fields: list[str], *, since: dt.datetime | None = None,
              retired: bool = False) -> Iterator[list[Record]]:
        records: Iterable[Record] = self._records(entity, retired)
        if since is not None:
            records = (r for r in records if _updated_since(entity, r, since))
        page: list[Record] = []
        for rec in records:
            page.append(rec)
            if len(page) == self.page_size:
                yield page
                page = []
        if page:
            yield page

    def by_ids(self, entity: str, fields: list[str], ids: list[int], *, retired: bool) -> list[Record]:
        wanted = set(ids)
        return [r for page in self.pages(entity, fields, retired=retired) for r in page
                if isinstance(r, dict) and type(r.get("id")) is int and r["id"] in wanted]


def _json_line(path: Path, lineno: int, line: str) -> Any:
    try:
        return jsonread.loads(line)
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path}: line {lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise LoadError(f"{path}: line {lineno}: JSON nested too deeply") from None


def prefetch(pages: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Fetch the next pages in a background thread while the caller writes the current one.

    Most of a live load is spent waiting for SG; overlapping that wait with the database write is the
    cheapest parallelism there is. Errors in the fetching thread are re-raised in the caller, and a caller
    that stops early stops the thread (:func:`sg2dbt.loader.ranges.background`).
    """
    return ranges.background(pages, depth=depth, name="sg2dbt-prefetch")

