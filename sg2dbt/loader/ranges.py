"""A big entity read by several keyset scans over disjoint id ranges at once.

SG serves 500 records a page at 100-500 ms a request, so one keyset scan of 2,000,000 Versions is 4,000
requests in a row: hours, whatever ``--workers`` says (workers parallelise entities, not pages). The pass
reads its first page as it always did; only when that page is full is the entity worth splitting. The
largest id comes from a probe (sent with the first page for a full pass, after it otherwise), the rest of
the id span is cut into ranges of whole pages at the first page's id density, and a pool of workers reads
them, each range its own keyset scan (``id > last and id <= end``). A worker that comes back with a full
page while others wait for work hands them parts of what is left of its range, cut at that page's density:
clumped ids (a dense block, a gap, another block) end up spread over every worker however the first page
guessed. Ranges are disjoint and each is read in id order to its end, so every record is read exactly
once, as in one scan. A small entity costs the request it cost before, plus, for a full pass, the probe
sent with it (SiteSource.pages).

Requests stay within pages + ranges + 2: the first page, the probe, and per range its pages plus at most
one short (or empty) last page; a range cut at a dense page's density ends on a full page at its end, so
dense ids cost no extra request at all. How many requests run at once is capped per site
(:class:`RequestCap`), across ranges and entities, because SG rate-limits a script.
"""

from __future__ import annotations

import collections
import math
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sg2dbt.core.convert import Record

Page = list[Record]
T = TypeVar("T")
Find = Callable[[int, "int | None"], Page]

DEFAULT_MAX_REQUESTS = 8    # concurrent requests per site: SG's documented guidance for scripts is "a few"

_DONE = object()


class RequestCap:
    """A per-site limit on requests in flight, shared by every range and worker of a run."""

    def __init__(self, limit: int = DEFAULT_MAX_REQUESTS) -> None:
        if limit < 1:
            raise ValueError("the request cap must be at least 1")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def __call__(self) -> AbstractContextManager[Any]:
        return self._slots


def split(after: int, last: int, density: float, page_size: int, pieces: int) -> list[tuple[int, int]]:
    """``(after, end]`` id ranges covering ``(after, last]``: at most ``pieces``, each a whole number of
    pages of ids at the given density (records per id), so a range as dense as the page it was measured on
    ends on a full page at its end instead of an extra short or empty request."""
    span = last - after
    if span <= 0:
        return []
    ids_per_page = max(1, round(page_size / density)) if density > 0 else span
    pages = math.ceil(span / ids_per_page)
    step = math.ceil(pages / max(1, min(pieces, pages))) * ids_per_page
    return [(lo, min(last, lo + step)) for lo in range(after, last, step)]


def density(page: Page, record_id: Callable[[Record], int]) -> float:
    """Records per id in a sorted page: how densely the site's ids are used (1.0 for consecutive ids)."""
    return len(page) / max(1, record_id(page[-1]) - record_id(page[0]) + 1)


class _Channel(Generic[T]):
    """Items from producer threads to one consumer, at most ``depth`` waiting (memory stays flat); a
    producer's error is raised in the consumer, and a consumer that stops stops every producer at its next
    item."""

    def __init__(self, depth: int) -> None:
        self.q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def drain(self, producers: int) -> Iterator[T]:
        """The items, until each of ``producers`` has put :data:`_DONE`."""
        try:
            while producers:
                item = self.q.get()
                if item is _DONE:
                    producers -= 1
                    continue
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop.set()


def background(items: Iterator[T], depth: int = 2, name: str = "sg2dbt-prefetch") -> Iterator[T]:
    """The items of ``items``, produced on a thread of their own ahead of the consumer (see :class:`_Channel`
    for errors, early stops and memory)."""
    channel: _Channel[T] = _Channel(depth)

    def run() -> None:
        try:
            for item in items:
                if not channel.put(item):
                    return
            channel.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            channel.put(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return channel.drain(1)


class Scan:
    """Keyset scans of ``spans`` read by ``workers`` threads, their pages in the order they arrive.

    ``find(last, end)`` returns the next page of records with ``last < id <= end`` (``end`` None: to the
    last id) in id order; an open-ended range (the ids past the probe's, created during the load) is read by
    its own worker, never cut: there is no end to cut it at. The threads start at once (the first page's
    consumer need not ask first); iterate to read the pages, or ``close`` to stop early.
    """

    def __init__(self, find: Find, spans: list[tuple[int, int | None]], *, page_size: int,
                 record_id: Callable[[Record], int], workers: int, depth: int,
                 name: str = "sg2dbt-range") -> None:
        self.find, self.page_size, self.record_id = find, page_size, record_id
        self.pending: collections.deque[tuple[int, int | None]] = collections.deque(spans)
        self.ranges = len(spans)   # every range read, the ones handed over by a worker included
        self.channel: _Channel[Page] = _Channel(depth)
        self.cond = threading.Condition()
        self.active = self.idle = 0
        self.workers = max(1, workers)
        for i in range(self.workers):
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True).start()

    def __iter__(self) -> Iterator[Page]:
        try:
            yield from self.channel.drain(self.workers)
        finally:
            self.close()

    def close(self) -> None:
        self.channel.stop.set()
        with self.cond:
            self.cond.notify_all()

    def _next_range(self) -> tuple[int, int | None] | None:
        """A range to read, once one is pending; None when there is none and none can come (every worker
        idle: no range left that could be cut), or when the consumer stopped."""
        with self.cond:
            while not self.pending and self.active and not self.channel.stop.is_set():
                self.idle += 1
                self.cond.wait()
                self.idle -= 1
            if not self.pending or self.channel.stop.is_set():
                self.cond.notify_all()
                return None
            self.active += 1
            return self.pending.popleft()

    def _work(self) -> None:
        try:
            while (span := self._next_range()) is not None:
                try:
                    if not self._read(*span):
                        return
                finally:
                    with self.cond:
                        self.active -= 1
                        self.cond.notify_all()
            self.channel.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            self.channel.put(exc)
            self.close()

    def _read(self, last: int, end: int | None) -> bool:
        """One range's keyset scan; False when the consumer stopped."""
        while True:
            page = self.find(last, end)
            if not page:
                return True
            page.sort(key=self.record_id)   # Mockgun only orders when asked, and not always then (linear if sorted)
            if not self.channel.put(page):
                return False
            last = self.record_id(page[-1])
            if len(page) < self.page_size or (end is not None and last >= end):
                return True
            end = self._hand_over(page, last, end)

    def _hand_over(self, page: Page, last: int, end: int | None) -> int | None:
        """Cut ``(last, end]`` for the workers waiting for work, at this page's density; the first part is
        this worker's next range (its new end returned), the others theirs."""
        with self.cond:
            if not self.idle or self.pending or end is None:
                return end
            parts = split(last, end, density(page, self.record_id), self.page_size, self.idle + 1)
            if len(parts) < 2:
                return end
            self.pending.extend(parts[1:])
            self.ranges += len(parts) - 1
            self.cond.notify(len(parts) - 1)
            return parts[0][1]


def keyset(find: Find, after: int, end: int | None, page_size: int,
           record_id: Callable[[Record], int]) -> Iterator[Page]:
    """One keyset scan of ``(after, end]`` in id order (``end`` None: to the last id)."""
    last = after
    while True:
        page = find(last, end)
        if not page:
            return
        page.sort(key=record_id)
        yield page
        last = record_id(page[-1])
        if len(page) < page_size or (end is not None and last >= end):
            return
