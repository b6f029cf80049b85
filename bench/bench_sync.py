"""Benchmark: ``sg2dbt sync`` beside today's ``sg2dbt load`` incremental, against the HTTP stand-in site with
150 ms per request (a real site's order of magnitude), 22 entities, in one run, on PostgreSQL:

* requests and rows written per idle refresh (nothing changed on the site);
* requests and wall time of a refresh after 10 records changed (updates, a create, a retirement, across entities);
* change-to-row latency in ``sync --watch`` at a 5 s interval (p50, p95): a record changed at a random moment,
  the warehouse polled until its row shows the change.

    python bench/bench_sync.py              # results as ratios in BENCHMARKS.md, section "sg2dbt sync"
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from sg2dbt.schema.sources import from_connection  # noqa: E402
from tests.support.sgserver import StandInSite, serve  # noqa: E402
from tests.support.sgsite import seed_mockgun  # noqa: E402

SHARED = Path(os.environ.get("SG2DBT_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("SG2DBT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SCRIPT, KEY = "bench", "bench-FAKE-key"
LATENCY = 0.15
RECORDS = 50


def _site() -> tuple[StandInSite, list[str]]:
    from shotgun_api3.lib.mockgun import Shotgun

    Shotgun.set_schema_paths(str(SHARED / "shotgun-api3-mockgun-schema.pickle"),
                             str(SHARED / "shotgun-api3-mockgun-schema_entity.pickle"))
    sg = Shotgun("https://mock.example.com", SCRIPT, KEY)
    site = StandInSite(sg, script=SCRIPT, key=KEY)
    schema = from_connection(sg)
    with_updated = [e.name for e in schema if e.has_updated_at and e.name not in ("Asset", "Shot")][:15]
    without = [e.name for e in schema if not e.has_updated_at and e.name.endswith("Connection")][:5]
    entities = sorted(["Asset", "Shot", *with_updated, *without])
    chosen = schema.filtered(only=entities)
    for entity in chosen:
        seed_mockgun(sg, chosen, entity.name, range(1, RECORDS + 1))
    return site, entities


def _cli(*args: str) -> tuple[int, str]:
    from sg2dbt.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def _ten_changes(site: StandInSite, round_: int) -> None:
    for rid in range(1, 6):
        site.update("Shot", rid, {"code": f"shot {round_}.{rid}"})
    for rid in range(1, 4):
        site.update("Asset", rid, {"code": f"asset {round_}.{rid}"})
    site.create("Shot", {"code": f"new {round_}"})
    site.retire("Asset", 10 + round_)


def _requests(site: StandInSite) -> int:
    return sum(site.requests.values())


def run(workdir: Path) -> dict[str, Any]:
    site, entities = _site()
    raw = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_URL)
    results: dict[str, Any] = {"entities": len(entities)}
    os.environ.update(SG_SCRIPT=SCRIPT, SG_API_KEY=KEY)
    only = [a for e in entities for a in ("--only", e)]
    try:
        with serve(site) as url:
            os.environ["SG_URL"] = url
            schema_file = workdir / "schema.json"
            assert _cli("schema", "dump", "--out", str(schema_file))[0] == 0
            load = ["load", "--schema", str(schema_file), *only, "--db", PG_URL, "--raw-schema", raw, "--json",
                    "--workers", "4"]
            assert _cli(*load)[0] == 0                                 # first (full) load
            site.latency = LATENCY
            before, t0 = _requests(site), time.perf_counter()
            _code, out = _cli(*load)
            results["load_idle"] = {"requests": _requests(site) - before, "rows": json.loads(out)["rows"],
                                    "seconds": time.perf_counter() - t0}
            _ten_changes(site, 0)
            before, t0 = _requests(site), time.perf_counter()
            _code, out = _cli(*load)
            results["load_changes"] = {"requests": _requests(site) - before, "rows": json.loads(out)["rows"],
                                       "seconds": time.perf_counter() - t0}

            # sync, in one process as --watch runs it: the first cycle, then idle and changed cycles.
            from sg2dbt.loader.reader import SiteSource
            from sg2dbt.schema.connect import connect, credentials
            from sg2dbt.sync.run import Syncer, SyncOptions, watch

            site.latency = 0.0
            source = SiteSource(lambda: connect(credentials(url=url, script=SCRIPT)), label="stand-in")
            sync_raw = f"{raw}_s"
            syncer = Syncer(engine, source, SyncOptions(raw_schema=sync_raw, only=tuple(entities)))
            syncer.cycle()
            site.latency = LATENCY
            idle = []
            for _ in range(3):
                before, t0 = _requests(site), time.perf_counter()
                summary = syncer.cycle()
                idle.append({"requests": _requests(site) - before, "rows": summary.rows,
                             "seconds": time.perf_counter() - t0})
            results["sync_idle"] = max(idle, key=lambda r: r["requests"])
            _ten_changes(site, 1)
            before, t0 = _requests(site), time.perf_counter()
            summary = syncer.cycle()
            results["sync_changes"] = {"requests": _requests(site) - before, "rows": summary.rows,
                                       "seconds": time.perf_counter() - t0}

            # --watch at 5 s: change-to-row latency.
            stop = threading.Event()
            thread = threading.Thread(target=watch, args=(syncer, 5.0, lambda s: None), kwargs={"stop": stop})
            thread.start()
            latencies = []
            rng = random.Random(10)
            try:
                for i in range(12):
                    time.sleep(rng.uniform(0, 5))
                    value = f"watch {i}"
                    t0 = time.perf_counter()
                    site.update("Shot", 20 + i, {"code": value})
                    while True:
                        with engine.connect() as conn:
                            got = conn.execute(sa.text(f'select code from "{sync_raw}".shot where id = :i'),
                                               {"i": 20 + i}).scalar()
                        if got == value:
                            break
                        time.sleep(0.05)
                    latencies.append(time.perf_counter() - t0)
            finally:
                stop.set()
                thread.join()
            latencies.sort()
            results["watch"] = {"p50": statistics.median(latencies),
                                "p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
                                "samples": len(latencies)}
    finally:
        with engine.begin() as conn:
            for schema in (raw, f"{raw}_s"):
                conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        engine.dispose()
    return results


def report(r: dict[str, Any]) -> str:
    li, lc, si, sc, w = r["load_idle"], r["load_changes"], r["sync_idle"], r["sync_changes"], r["watch"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}x" if b else "∞"

    return "\n".join([
        "## sg2dbt sync",
        "",
        "`python bench/bench_sync.py`: the HTTP stand-in site (tests/support/sgserver.py) with "
        f"{LATENCY * 1000:.0f} ms per request, {r['entities']} entities of {RECORDS} records (some without "
        "`updated_at`), PostgreSQL; "
        "today's `sg2dbt load` incremental (one command per refresh, as cron runs it; in-process here, so "
        "start-up is not counted) beside `sg2dbt sync` cycles in one `--watch` process, in one run. Before sync's "
        "connection pool (`SiteSource`), the same idle load made 67 requests: a third were `info` calls of a "
        "new connection per pass.",
        "",
        "| refresh | `sg2dbt load` | `sg2dbt sync` | load / sync |",
        "|---|---|---|---|",
        f"| idle: requests | {li['requests']} | {si['requests']} | {ratio(li['requests'], si['requests'])} |",
        f"| idle: rows written | {li['rows']} | {si['rows']} | {ratio(li['rows'], si['rows'])} |",
        f"| idle: wall time | {li['seconds']:.2f} s | {si['seconds']:.2f} s | {ratio(li['seconds'], si['seconds'])} |",
        f"| 10 changed records: requests | {lc['requests']} | {sc['requests']} | "
        f"{ratio(lc['requests'], sc['requests'])} |",
        f"| 10 changed records: wall time | {lc['seconds']:.2f} s | {sc['seconds']:.2f} s | "
        f"{ratio(lc['seconds'], sc['seconds'])} |",
        "",
        f"`sync --watch` at a 5 s interval, {w['samples']} changes at random moments: change-to-row latency "
        f"p50 {w['p50']:.2f} s, p95 {w['p95']:.2f} s (goal: p95 at most 10 s; sgcache polls every 5 s).",
        "",
        "An idle sync cycle is one request (the event-log `find`) whatever the number of entities, and writes "
        "nothing; `load` asks every entity for changes and its retired ids, and reloads every entity without "
        "`updated_at` whole. A one-shot `sg2dbt sync` (cron) adds the two schema calls and shotgun_api3's `info`.",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="Print the section; leave BENCHMARKS.md alone.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = run(Path(tmp))
    print(json.dumps(results, indent=2))
    text = report(results)
    print(text)
    if not args.no_write:
        write_section("## sg2dbt sync", text)


if __name__ == "__main__":
    main()
