"""Benchmark: ``sg2dbt load`` of Shot records (shared real schema) into PostgreSQL, side by side with
(a) the ORM loop of shotgrid_orm's README "Bulk Data Transfer" (one ``session.add`` per record, one commit) and
(b) binary COPY of the same rows already flattened (the limit), in one run.

The records come from an in-process source serving find()-shaped pages, so the figures measure the loader,
not Mockgun (whose ``find`` is O(n) per page) nor the network.

    python bench/bench_load.py                 # ratios (50,000 rows; ORM loop on 5,000; median of 3 rounds)
    python bench/bench_load.py --memory        # peak RSS of a load of 100,000 vs 1,000,000 rows
    python bench/bench_load.py --cpu           # CPU per row: the loader's converting and writing, the server's

Results go in BENCHMARKS.md, section "sg2dbt load".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from benchmarks_md import in_fresh_processes  # noqa: E402

from sg2dbt.core.convert import RowConverter  # noqa: E402
from sg2dbt.core.layout import RawLayout, plan  # noqa: E402
from sg2dbt.emit.metadata import build_metadata  # noqa: E402
from sg2dbt.loader import LoadOptions, load  # noqa: E402
from sg2dbt.loader.writers import PostgresWriter  # noqa: E402
from sg2dbt.schema import sources  # noqa: E402
from tests.support.sgsite import record  # noqa: E402

PG_URL = os.environ.get("SG2DBT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCHEMA_JSON = Path(os.environ.get("SG2DBT_SHARED_DATA", REPO.parent / "shared" / "data")) / \
    "shotgun-api3-mockgun-schema.json"
PAGE = 500


class PageSource:
    """Serves find()-shaped Shot pages: from a prepared list, or (``generate``) made page by page from one
    template page with new ids, so that a million records never exist in memory at once."""

    label = "bench pages"
    io_bound = False   # served from memory: there is no network wait for a prefetch thread to hide

    def __init__(self, records: list[dict[str, Any]] | None = None, *, template: list[dict[str, Any]] | None = None,
                 total: int = 0) -> None:
        self.records = records
        self.template = template
        self.total = total

    def pages(self, entity: str, fields: list[str], *, since: Any = None, retired: bool = False
              ) -> Iterator[list[dict[str, Any]]]:
        if retired:
            return
        if self.records is not None:
            for i in range(0, len(self.records), PAGE):
                yield self.records[i:i + PAGE]
            return
        assert self.template is not None
        for start in range(0, self.total, PAGE):
            yield [dict(rec, id=start + k + 1) for k, rec in enumerate(self.template[:self.total - start])]

    def by_ids(self, entity: str, fields: list[str], ids: list[int], *, retired: bool) -> list[dict[str, Any]]:
        return []

    def as_of(self, entity: str) -> dt.datetime | None:
        return dt.datetime.now(dt.timezone.utc)   # served now, like a live site's pass


def shot_layout() -> tuple[RawLayout, Any]:
    schema = sources.from_path(SCHEMA_JSON).filtered(only=["Shot"])
    return plan(schema), schema


@contextlib.contextmanager
def bench_database(prefix: str) -> Iterator[tuple[sa.Engine, str]]:
    """An engine and a fresh PostgreSQL schema, dropped afterwards."""
    engine = sa.create_engine(PG_URL)
    name = f"{prefix}_{os.getpid()}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        yield engine, name
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()


def bench_loader(engine: sa.Engine, layout: RawLayout, source: PageSource, bench_schema: str) -> float:
    t0 = time.perf_counter()
    summary = load(engine, layout, source, LoadOptions(raw_schema=bench_schema, full_refresh=True, workers=1))
    seconds = time.perf_counter() - t0
    assert not summary.failed, summary.failed[0].error
    return seconds


def bench_copy_limit(engine: sa.Engine, layout: RawLayout, records: list[dict[str, Any]], bench_schema: str) -> float:
    raw = layout["Shot"]
    conv = RowConverter(raw)
    now = dt.datetime.now(dt.timezone.utc)
    rows = [conv.row(r, False, now) for r in records]   # flattened before the clock starts
    table = build_metadata(layout, bench_schema).tables[f"{bench_schema}.{raw.name}"]
    with engine.begin() as conn:
        conn.execute(sa.delete(table))
    t0 = time.perf_counter()
    with engine.begin() as conn, contextlib.closing(PostgresWriter(conn, table, conv.columns)) as writer, \
            writer.bulk(upsert=False) as put:
        for i in range(0, len(rows), PAGE):   # one COPY statement for all rows, as the loader does
            put(rows[i:i + PAGE])
    return time.perf_counter() - t0


def bench_orm_loop(layout: RawLayout, schema: Any, records: list[dict[str, Any]], bench_schema: str) -> float:
    from sqlalchemy.orm import Session

    from sg2dbt import SGORM, SchemaType

    sg_orm = SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(SCHEMA_JSON), echo=False,
                   ignored_tables=[e for e in sources.from_path(SCHEMA_JSON).entities if e != "Shot"])
    Shot = sg_orm["Shot"]
    raw = layout["Shot"]
    conv = RowConverter(raw, json_as_text=False)
    attrs = [c.attr for c in conv.columns]
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={bench_schema}"})
    with engine.begin() as conn:
        conn.exec_driver_sql(f'TRUNCATE "{bench_schema}".{raw.name}')
    now = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    session = Session(engine)
    for rec in records:   # the README's loop: flatten each record onto a new object, add it
        shot = Shot()
        for attr, value in zip(attrs, conv.row(rec, False, now), strict=True):
            setattr(shot, attr, value)
        session.add(shot)
    session.commit()
    session.close()
    seconds = time.perf_counter() - t0
    engine.dispose()
    return seconds


def ratios(n: int, n_orm: int, rounds: int) -> dict[str, Any]:
    """Each round times the three side by side on the same rows; the medians over rounds are reported,
    because on a shared machine one round can be slowed by other work."""
    layout, schema = shot_layout()
    records = [record(schema["Shot"], i, schema) for i in range(1, n + 1)]
    runs: dict[str, list[float]] = {"load": [], "copy": [], "orm": []}
    with bench_database("bench_load") as (engine, bench_schema):
        bench_loader(engine, layout, PageSource(records[:PAGE]), bench_schema)   # warm-up: imports, connections
        for _ in range(rounds):
            runs["load"].append(n / bench_loader(engine, layout, PageSource(records), bench_schema))
            runs["copy"].append(n / bench_copy_limit(engine, layout, records, bench_schema))
            runs["orm"].append(n_orm / bench_orm_loop(layout, schema, records[:n_orm], bench_schema))
    load_rps, copy_rps, orm_rps = (statistics.median(runs[k]) for k in ("load", "copy", "orm"))
    return {"rows": n, "orm_rows": n_orm, "rounds": rounds, "columns": len(layout["Shot"].columns),
            "sg2dbt_load_rows_per_s": round(load_rps), "copy_limit_rows_per_s": round(copy_rps),
            "orm_loop_rows_per_s": round(orm_rps), "load_vs_copy": round(load_rps / copy_rps, 2),
            "load_vs_orm": round(load_rps / orm_rps, 1),
            "per_round_load_vs_copy": [round(a / b, 2) for a, b in zip(runs["load"], runs["copy"], strict=True)],
            "per_round_load_vs_orm": [round(a / b, 1) for a, b in zip(runs["load"], runs["orm"], strict=True)]}


def cpu_split(n: int, rounds: int) -> dict[str, Any]:
    """Where a load's CPU goes, per row (medians of ``rounds`` loads): the loader's worker thread (converting
    pages, writing them) and the PostgreSQL backend serving it (from /proc: the server must be on this
    machine). On 2 cores the two run at once when a core is free; when not, a load takes their sum."""
    from sg2dbt.loader import run

    layout, schema = shot_layout()
    records = [record(schema["Shot"], i, schema) for i in range(1, n + 1)]
    spent = {"convert": 0.0, "entity": 0.0}

    def timed(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.thread_time() - t0
        return wrapper

    def backend_cpu(engine: sa.Engine) -> float:
        with engine.connect() as conn:   # the pool hands back the connection the load used
            pid = conn.exec_driver_sql("select pg_backend_pid()").scalar()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    runs: dict[str, list[float]] = {"entity": [], "convert": [], "write_and_rest": [], "server": [], "wall": []}
    orig_run, orig_rows = run._EntityLoad.run, RowConverter.rows
    run._EntityLoad.run = timed("entity", orig_run)  # type: ignore[method-assign]
    RowConverter.rows = timed("convert", orig_rows)  # type: ignore[method-assign]
    try:
        with bench_database("bench_load_cpu") as (engine, bench_schema):
            bench_loader(engine, layout, PageSource(records[:PAGE]), bench_schema)
            for _ in range(rounds):
                spent.update(convert=0.0, entity=0.0)
                server = backend_cpu(engine)
                wall = bench_loader(engine, layout, PageSource(records), bench_schema)
                runs["server"].append(backend_cpu(engine) - server)
                runs["wall"].append(wall)
                runs["entity"].append(spent["entity"])
                runs["convert"].append(spent["convert"])
                runs["write_and_rest"].append(spent["entity"] - spent["convert"])
    finally:
        run._EntityLoad.run, RowConverter.rows = orig_run, orig_rows  # type: ignore[method-assign]
    return {"rows": n, "rounds": rounds, **{f"{k}_us_per_row": round(1e6 * statistics.median(v) / n, 2)
                                            for k, v in runs.items()}}


def memory_child(total: int) -> None:
    """One load of ``total`` generated rows in this process; prints peak RSS (ru_maxrss) as JSON."""
    layout, schema = shot_layout()
    template = [record(schema["Shot"], i, schema) for i in range(1, PAGE + 1)]
    with bench_database("bench_load_mem") as (engine, bench_schema):
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        seconds = bench_loader(engine, layout, PageSource(template=template, total=total), bench_schema)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": total, "seconds": round(seconds, 1), "rows_per_s": round(total / seconds),
                      "peak_rss_mb_before_load": round(rss_before / 1024), "peak_rss_mb": round(rss_after / 1024)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--orm-rows", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="peak RSS at 100,000 vs 1,000,000 rows")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", action="store_true", help="CPU per row: loader thread (convert, write), server")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
    elif args.cpu:
        print(json.dumps(cpu_split(args.rows, args.rounds), indent=1))
    elif args.memory:
        print(json.dumps(in_fresh_processes(__file__, [100_000, 1_000_000]), indent=1))
    else:
        print(json.dumps(ratios(args.rows, args.orm_rows, args.rounds), indent=1))


if __name__ == "__main__":
    main()
