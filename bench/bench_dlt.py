"""Benchmark: ``sg2dbt load`` beside dlt 1.x loading the same SG records, into DuckDB and into PostgreSQL.

dlt is what a data engineer would reach for first to land a REST API's JSON in a warehouse. Both get the same
find()-shaped Shot records of the shared real schema (links as dicts, multi-entity fields as lists of dicts,
aware datetimes), served from memory so neither measures the network; each does what it does by default with
them: sg2dbt writes one raw table (links as ``_id``/``_type`` columns, lists as aligned columns), dlt infers a
schema, flattens the dicts into columns and the lists into child tables. Full replace each round.

    pip install -e '.[bench]'                   # dlt[duckdb,postgres] is in the bench extra
    python bench/bench_dlt.py                   # 20,000 rows, median of 3 rounds, writes BENCHMARKS.md

Results go in BENCHMARKS.md, section "sg2dbt load vs dlt".
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")   # offline machines: no telemetry calls

import sqlalchemy as sa
from bench_load import PG_URL, PageSource, bench_database, bench_loader, shot_layout
from benchmarks_md import write_section

from tests.support.sgsite import record

SECTION = "## sg2dbt load vs dlt"


def sg2dbt_duckdb(layout: Any, records: list[dict[str, Any]], work: Path) -> float:
    engine = sa.create_engine(f"duckdb:///{work / 'sg2dbt.duckdb'}")
    try:
        return bench_loader(engine, layout, PageSource(records), "raw")
    finally:
        engine.dispose()


def sg2dbt_postgres(layout: Any, records: list[dict[str, Any]], schema: str) -> float:
    engine = sa.create_engine(PG_URL)
    try:
        return bench_loader(engine, layout, PageSource(records), schema)
    finally:
        engine.dispose()


def dlt_run(destination: Any, dataset: str, records: list[dict[str, Any]], work: Path) -> float:
    import dlt

    pipeline = dlt.pipeline(pipeline_name=f"bench_{dataset}", destination=destination, dataset_name=dataset,
                            pipelines_dir=str(work / "dlt_pipelines"))
    t0 = time.perf_counter()
    info = pipeline.run(records, table_name="shot", write_disposition="replace")
    seconds = time.perf_counter() - t0
    info.raise_on_failed_jobs()
    return seconds


def _pg_dlt_credentials() -> str:
    """dlt insists on a password; a trust-auth server (this machine's) ignores whichever is sent."""
    url = sa.make_url(PG_URL)
    return url.set(drivername="postgresql", password=url.password or "unused").render_as_string(hide_password=False)


def run(n: int, rounds: int) -> dict[str, Any]:
    import dlt

    layout, schema = shot_layout()
    records = [record(schema["Shot"], i, schema) for i in range(1, n + 1)]
    runs: dict[str, list[float]] = {k: [] for k in ("sg2dbt duckdb", "dlt duckdb", "sg2dbt postgres",
                                                   "dlt postgres")}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp, bench_database("bench_dlt") as (_engine, pg_schema):
        work = Path(tmp)
        duck = dlt.destinations.duckdb(str(work / "dlt.duckdb"))
        pg = dlt.destinations.postgres(credentials=_pg_dlt_credentials())
        # warm-up: imports, connections, dlt's schema inference on a first small batch
        sg2dbt_duckdb(layout, records[:500], work)
        dlt_run(duck, "warm", records[:500], work)
        for _ in range(rounds):
            runs["sg2dbt duckdb"].append(n / sg2dbt_duckdb(layout, records, work))
            runs["dlt duckdb"].append(n / dlt_run(duck, "shotgrid", records, work))
            runs["sg2dbt postgres"].append(n / sg2dbt_postgres(layout, records, pg_schema))
            runs["dlt postgres"].append(n / dlt_run(pg, f"{pg_schema}_dlt", records, work))
        with sa.create_engine(PG_URL).begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{pg_schema}_dlt" CASCADE')
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{pg_schema}_dlt_staging" CASCADE')
    load_after = os.getloadavg()[0]
    return {"rows": n, "rounds": rounds, "runs": runs, "load": (load_before, load_after)}


def render(result: dict[str, Any]) -> str:
    import dlt

    runs = result["runs"]
    med = {k: statistics.median(v) for k, v in runs.items()}

    def per_round(a: str, b: str) -> str:
        return ", ".join(f"{x / y:.1f}" for x, y in zip(runs[a], runs[b], strict=True))

    lines = [
        SECTION, "",
        f"`python bench/bench_dlt.py` on {platform.machine()} (2 cores, shared with other work; load average "
        f"{result['load'][0]:.1f} before, {result['load'][1]:.1f} after), Python {platform.python_version()}, "
        f"dlt {dlt.__version__}. {result['rows']:,} Shot records of the shared real schema (the same records for "
        f"both, from memory), full replace, median of {result['rounds']} rounds after a warm-up.", "",
        "| path | rows/s (median) | per round |", "|---|---:|---|",
    ]
    for name, values in runs.items():
        lines.append(f"| {name} | {med[name]:,.0f} | {', '.join(f'{v:,.0f}' for v in values)} |")
    lines += [
        "", "| ratio | median | per round |", "|---|---:|---|",
        f"| sg2dbt / dlt, DuckDB | **{med['sg2dbt duckdb'] / med['dlt duckdb']:.1f}** | "
        f"{per_round('sg2dbt duckdb', 'dlt duckdb')} |",
        f"| sg2dbt / dlt, PostgreSQL | **{med['sg2dbt postgres'] / med['dlt postgres']:.1f}** | "
        f"{per_round('sg2dbt postgres', 'dlt postgres')} |",
        "",
        "What each side does: sg2dbt converts every record with the loader's compiled converter (value rules "
        "checked) and writes one raw table per entity in one transaction with its sync state; dlt infers and "
        "evolves a schema per batch, normalises the records to files (nested dicts become columns, lists child "
        "tables), then loads them; columns null in every record (6 links here) it cannot type and leaves "
        "out of the table. Target: sg2dbt at least 5x dlt's rows/s on both.", "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = ap.parse_args()
    text = render(run(args.rows, args.rounds))
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
