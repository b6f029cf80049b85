"""The loader's page prefetcher: pages arrive in order, errors reach the caller, and a caller that stops
early never leaves the fetching thread (and the site connection it holds) blocked behind it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sg2dbt.loader.reader import prefetch


def _pages(n: int, fail_at: int | None = None) -> Iterator[list[dict[str, int]]]:
    for i in range(n):
        if i == fail_at:
            raise ConnectionError("site went away")
        yield [{"id": i}]


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sg2dbt-prefetch"]


def test_pages_arrive_in_order() -> None:
    assert [p[0]["id"] for p in prefetch(_pages(7))] == list(range(7))


def test_an_error_while_fetching_reaches_the_caller() -> None:
    got = []
    with pytest.raises(ConnectionError, match="site went away"):
        for page in prefetch(_pages(5, fail_at=3)):
            got.append(page[0]["id"])
    assert got == [0, 1, 2]


def test_a_caller_that_stops_early_leaves_no_thread_behind() -> None:
    exhausted = threading.Event()

    def two_pages() -> Iterator[list[dict[str, int]]]:
        yield [{"id": 0}]
        yield [{"id": 1}]
        exhausted.set()   # the fetcher has queued its last page and now hands over the end marker

    it = prefetch(two_pages(), depth=1)
    assert next(it) == [{"id": 0}]
    assert exhausted.wait(timeout=10)   # page 1 fills the queue: the end marker has nowhere to go
    fetchers = _prefetch_threads()
    it.close()   # the writer failed: the consumer stops without reading page 1
    for t in fetchers:
        t.join(timeout=5)
    assert fetchers and not [t for t in fetchers if t.is_alive()]
