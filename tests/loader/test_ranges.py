"""Range-split keyset scans (loader/ranges.py, SiteSource.pages): every record exactly once, requests within
pages + ranges + 2, and never more requests in flight than the site's cap."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
import time
from typing import Any

import pytest

from sg2dbt.loader import ranges
from sg2dbt.loader.reader import SiteSource

UTC = dt.timezone.utc


class CountingSite:
    """A site of ``ids`` that serves SG's id filters and order, counts its finds and the most in flight."""

    def __init__(self, ids: list[int], delay: float = 0.0) -> None:
        self.records = {i: {"type": "Shot", "id": i, "updated_at": dt.datetime(2026, 1, 1, tzinfo=UTC)
                            + dt.timedelta(minutes=i % 7)} for i in ids}
        self.delay = delay
        self.finds = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def find(self, entity: str, filters: list[Any], fields: list[str], *, order: Any = None, limit: int = 0,
             retired_only: bool = False) -> list[dict[str, Any]]:
        with self.lock:
            self.finds += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay)
        ops = {"greater_than": lambda a, b: a > b, "less_than": lambda a, b: a < b}
        rows = [r for r in self.records.values() if all(ops[op](r[f], v) for f, op, v in filters)]
        rows.sort(key=lambda r: r["id"], reverse=bool(order) and order[0]["direction"] == "desc")
        with self.lock:
            self.in_flight -= 1
        return [dict(r) for r in rows[:limit or None]]


def _read(source: SiteSource, **kw: Any) -> list[int]:
    return [r["id"] for page in source.pages("Shot", ["id", "updated_at"], **kw) for r in page]


@pytest.mark.parametrize("ids", [list(range(1, 1001)),                                   # dense
                                 [i * 3 for i in range(1, 700)],                        # even gaps
                                 [*range(1, 60), *range(5000, 5400), 90_000],            # clumps and a far id
                                 [*range(1, 301), *range(100_000, 101_500)],             # a small block, a big one
                                 list(range(1, 51)), [7]])                               # one page, one record
def test_every_record_is_read_exactly_once_within_the_request_budget(ids: list[int]) -> None:
    site = CountingSite(ids)
    source = SiteSource(lambda: site, page_size=50, max_requests=4)
    got = _read(source)
    assert sorted(got) == sorted(ids) and len(got) == len(set(got))
    pages = math.ceil(len(ids) / 50)
    assert site.finds <= pages + source.ranges + 1, (site.finds, pages, source.ranges)   # + the probe
    if len(ids) < 50:
        assert site.finds == 2, "a small full pass: its one page and the probe sent with it"
    if len(ids) == 50:
        assert site.finds == 3, "a full first page and nothing past it: the request a keyset scan ends with too"
    if ids == list(range(1, 1001)):
        assert site.finds == pages + 2, "dense ids: ranges end on full pages; the probe, the open end's empty page"


def test_a_small_incremental_pass_costs_its_one_request() -> None:
    site = CountingSite(list(range(1, 31)))
    _read(SiteSource(lambda: site, page_size=50, max_requests=4), since=dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert site.finds == 1


def test_a_dense_block_far_from_the_first_page_is_read_by_several_ranges_at_once() -> None:
    """Clumped ids (a few at the start, a gap, most of the records in a block at the top): the first page's
    density leaves most ranges empty and one range with the block; that range hands parts of it to the
    workers left idle, so the block is read with the whole cap in flight, each record once."""
    ids = [*range(1, 101), *range(1_000_000, 1_002_000)]
    site = CountingSite(ids, delay=0.01)
    in_block, most_in_block = [0], [0]
    find = site.find

    def watched(entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        block = any(op == "greater_than" and v >= 999_999 for _f, op, v in filters)
        with site.lock:
            in_block[0] += block
            most_in_block[0] = max(most_in_block[0], in_block[0])
        try:
            return find(entity, filters, fields, **kw)
        finally:
            with site.lock:
                in_block[0] -= block

    site.find = watched  # type: ignore[method-assign]
    source = SiteSource(lambda: site, page_size=50, max_requests=4)
    got = _read(source)
    assert sorted(got) == ids and len(got) == len(set(got))
    assert most_in_block[0] >= 3, "the block's pages were read by one range after another"
    assert site.finds <= math.ceil(len(ids) / 50) + source.ranges + 1


def test_an_incremental_pass_splits_too_and_keeps_its_filter() -> None:
    site = CountingSite(list(range(1, 2001)))
    since = dt.datetime(2026, 1, 1, 0, 3, tzinfo=UTC)
    got = _read(SiteSource(lambda: site, page_size=40, max_requests=4), since=since)
    assert sorted(got) == sorted(i for i, r in site.records.items() if r["updated_at"] > since)


def test_requests_in_flight_never_exceed_the_cap_and_ranges_do_overlap() -> None:
    site = CountingSite(list(range(1, 2001)), delay=0.02)
    source = SiteSource(lambda: site, page_size=50, max_requests=3)
    assert len(_read(source)) == 2000
    assert site.most_in_flight == 3


def test_records_created_after_the_probe_are_read_by_the_last_range() -> None:
    site = CountingSite(list(range(1, 301)))
    find = site.find

    def create_after_probe(entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        page = find(entity, filters, fields, **kw)
        if kw.get("order") and kw["order"][0]["direction"] == "desc":   # the probe has its answer
            site.records.update({i: {"type": "Shot", "id": i} for i in range(301, 321)})
        return page

    site.find = create_after_probe  # type: ignore[method-assign]
    ids = _read(SiteSource(lambda: site, page_size=50, max_requests=4))
    assert sorted(ids) == list(range(1, 321)) and len(ids) == len(set(ids))


def test_records_created_after_the_probe_and_before_the_first_page_are_read() -> None:
    """The probe goes out with the first page and may be answered first: records created between the two
    answers can fill the first page past the probe's largest id; the pass still reads them, as one scan would."""
    site = CountingSite(list(range(1, 51)))
    find = site.find
    probed = threading.Event()

    def probe_then_create(entity: str, filters: list[Any], fields: list[str], **kw: Any) -> list[dict[str, Any]]:
        if kw.get("order") and kw["order"][0]["direction"] == "desc":
            page = find(entity, filters, fields, **kw)
            probed.set()
            return page
        if filters == [["id", "greater_than", 0]]:   # the first page: read once the probe has its answer
            probed.wait(10)
            site.records.update({i: {"type": "Shot", "id": i} for i in range(51, 54)})
        return find(entity, filters, fields, **kw)

    site.find = probe_then_create  # type: ignore[method-assign]
    ids = _read(SiteSource(lambda: site, page_size=50, max_requests=2))
    assert sorted(ids) == list(range(1, 54)) and len(ids) == len(set(ids))


def test_an_error_in_one_range_reaches_the_consumer_and_stops_the_others() -> None:
    reads: list[int] = []

    def find(last: int, end: int | None) -> list[dict[str, Any]]:
        reads.append(last)
        if 200 <= last < 300:
            raise RuntimeError("range 3 failed")
        time.sleep(0.01)
        return [{"id": i} for i in range(last + 1, min(last + 11, end or 10**9))]

    scan = ranges.Scan(find, [(0, 100), (100, 200), (200, 300), (300, None)], page_size=10,
                       record_id=lambda r: r["id"], workers=4, depth=2)
    with pytest.raises(RuntimeError, match="range 3 failed"):
        list(scan)
    time.sleep(0.1)
    settled = len(reads)
    time.sleep(0.1)
    assert len(reads) == settled < 40, "the other ranges stopped"


@pytest.mark.parametrize(("after", "last", "density", "page", "pieces"), [
    (500, 20_000, 1.0, 500, 16), (0, 10, 1.0, 500, 8), (100, 100_000, 0.1, 50, 5), (7, 9, 1.0, 1, 4),
    (0, 1_000_000, 0.001, 500, 3)])
def test_split_covers_the_span_in_disjoint_ranges_of_whole_pages(after: int, last: int, density: float,
                                                                 page: int, pieces: int) -> None:
    bounds = ranges.split(after, last, density, page, pieces)
    assert 1 <= len(bounds) <= pieces
    assert bounds[0][0] == after and bounds[-1][1] == last
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    ids_per_page = round(page / density)
    assert all((hi - lo) % ids_per_page == 0 for lo, hi in bounds[:-1]), "each ends on a whole page of ids"


def test_an_ordered_pass_is_one_scan_in_id_order() -> None:
    """``sg2dbt dump`` writes files sorted by id: it reads with ordered=True, never split."""
    site = CountingSite(list(range(1, 1001)))
    got = _read(SiteSource(lambda: site, page_size=50, max_requests=4), ordered=True)
    assert got == list(range(1, 1001)) and site.most_in_flight == 1


def test_the_duplicate_check_keeps_compact_runs_for_interleaved_range_pages() -> None:
    """The loader's refusal of an id seen twice in a pass, fed the interleaved pages of range scans."""
    from sg2dbt.loader.run import _PassIds

    seen = _PassIds()
    pages = [list(range(1, 51)), list(range(3001, 3051)), list(range(501, 551)), list(range(3051, 3101)),
             list(range(551, 601)), list(range(51, 101))]
    assert all(seen.add_all(p) is None for p in pages)
    assert seen._set is None and len(seen._runs) <= 3, "no switch to a set for range-split passes"
    assert 3075 in seen and 560 in seen and 2000 not in seen
    assert seen.add_all([2000, 3060]) == 3060           # a page overlapping a run's ids is checked id by id
    assert seen.add_all([601, 602]) is None and seen._set is None


def test_a_consumer_that_stops_early_leaves_no_range_thread_behind() -> None:
    """The writer failed after the first page: every worker, whether waiting for work, for a request or for
    room in the queue, stops (each holds a site connection)."""
    def find(last: int, end: int | None) -> list[dict[str, Any]]:
        time.sleep(0.005)
        return [{"id": i} for i in range(last + 1, min(last + 11, (end or 10**6) + 1))]

    scan = ranges.Scan(find, [(0, 500), (500, 1000), (1000, None)], page_size=10, record_id=lambda r: r["id"],
                       workers=6, depth=1, name="sg2dbt-range-test")
    pages = iter(scan)
    assert next(pages)
    workers = [t for t in threading.enumerate() if t.name.startswith("sg2dbt-range-test")]
    pages.close()   # type: ignore[attr-defined]
    for t in workers:
        t.join(timeout=5)
    assert len(workers) == 6 and not [t for t in workers if t.is_alive()]
