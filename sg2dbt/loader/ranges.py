"""A big entity read by several keyset scans over disjoint id ranges at once.

SG serves 500 records a page at 100-500 ms a request, so one keyset scan of 2,000,000 Versions is 4,000
requests in a row: hours, whatever ``--workers`` says (workers parallelise entities, not pages). The pass
reads its first page as it always did; only when that page is full is the entity worth splitting: one more
request finds the largest id, the rest of the id span is cut into ranges sized by the first page's id
density, and each range is its own keyset scan (``id > last and id <= end``) run on its own thread. Ranges
are disjoint and each is read in id order to its end, so every record is read exactly once, as in one scan;
a small entity costs exactly the requests it cost before.

Requests stay within pages + ranges + 2: the first page, the probe, and per range its pages plus at most
one short (or empty) last page. How many requests run at once is capped per site (:class:`RequestCap`),
across ranges and entities, because SG rate-limits a script.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from sg2dbt.core.convert import Record

Page = list[Record]

DEFAULT_MAX_REQUESTS = 8    # concurrent requests per site: SG's documented guidance for scripts is "a few"
MIN_PAGES_PER_RANGE = 2     # a range shorter than this costs its extra last request for too little gain

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


def split(after: int, last: int, density: float, page_size: int, max_ranges: int) -> list[tuple[int, int]]:
    """``(after, end]`` id ranges covering ``(after, last]``, as many as the pages the span should hold
    allow (at least :data:`MIN_PAGES_PER_RANGE` each) and at most ``max_ranges``; each ends on a whole page
    of ids at the given density, so a dense range ends on a full page instead of an extra empty request."""
    span = last - after
    if span <= 0:
        return []
    pages = span * density / page_size
    count = max(1, min(max_ranges, math.floor(pages / MIN_PAGES_PER_RANGE)))
    ids_per_page = max(1, round(page_size / density)) if density > 0 else span
    step = max(1, math.ceil(span / count / ids_per_page)) * ids_per_page
    bounds, start = [], after
    while start < last:
        end = min(last, start + step)
        bounds.append((start, end))
        start = end
    return bounds


def merged(scans: Iterable[Iterator[Page]], depth: int = 4, name: str = "sg2dbt-range") -> Iterator[Page]:
    """Pages of several scans, each run on its own thread, in the order they arrive.

    At most ``depth`` pages wait for the consumer (memory stays flat however many ranges run). An error in
    any scan stops the others and is raised in the consumer; a consumer that stops early stops every scan
    at its next page.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    scans = list(scans)

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(scan: Iterator[Page]) -> None:
        try:
            for page in scan:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            put(exc)

    threads = [threading.Thread(target=run, args=(s,), name=name if len(scans) == 1 else f"{name}-{i}", daemon=True)
               for i, s in enumerate(scans)]
    for t in threads:
        t.start()
    running = len(threads)
    try:
        while running:
            item = q.get()
            if item is _DONE:
                running -= 1
                continue
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def keyset(find: Callable[[int, int | None], Page], after: int, end: int | None, page_size: int,
           record_id: Callable[[Record], int]) -> Iterator[Page]:
    """One keyset scan of ``(after, end]`` (``end`` None: to the last id): ``find(last, end)`` returns the
    next page of records with ``last < id <= end`` in id order."""
    last = after
    while True:
        page = find(last, end)
        if not page:
            return
        page.sort(key=record_id)   # Mockgun only orders when asked, and not always then (linear if sorted)
        yield page
        last = record_id(page[-1])
        if len(page) < page_size or (end is not None and last >= end):
            return
