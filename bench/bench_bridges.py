"""Benchmark the bridge models' materialisation on the shared real schema: a view (splits the raw id lists on
every query) against a table (splits them once per ``dbt build``), on PostgreSQL and DuckDB, in one run.

The real schema's project is built twice (``--bridges view`` and ``--bridges table``) over one raw schema that
holds ``--shots`` Shot rows with ``--links`` assets each (``Shot.assets``, the bridge a BI user joins most). Per
materialisation the bench times ``dbt run`` of the bridge, then two queries a BI tool sends, repeated; medians
in milliseconds:

* ``count``   ``select count(*), sum(linked_id) from <bridge>``
* ``join``    the assets of 50 shots: ``<shot> join <bridge> join <asset>``

Usage: python bench/bench_bridges.py [--shots 20000] [--links 8] [--repeats 15] [--pg-url URL] [--no-write]
(``--pg-url`` defaults to $SG2DBT_PG_URL; without one only DuckDB runs). Writes the
``## Bridge materialisation`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import sqlalchemy as sa
from benchmarks_md import write_section  # bench/: the section writer every benchmark shares

from sg2dbt.core.layout import plan
from sg2dbt.emit.project import ProjectOptions, build_project, create_raw_tables
from sg2dbt.schema import sources

REPO = Path(__file__).resolve().parent.parent

DEFAULT_SCHEMA = Path(os.environ.get("SG2DBT_SHARED_DATA", REPO.parent / "shared" / "data")) \
    / "shotgun-api3-mockgun-schema.json"
SECTION = "## Bridge materialisation"
BRIDGE = "stg_shotgrid__shot__assets"
QUERIES = {
    "count": "select count(*), sum(linked_id) from {s}." + BRIDGE,
    "join": "select s.shot_id, a.asset_id from {s}.stg_shotgrid__shot s join {s}." + BRIDGE + " b "
            "on b.shot_id = s.shot_id join {s}.stg_shotgrid__asset a on a.asset_id = b.linked_id "
            "where s.shot_id <= 50",
}


def load(engine: sa.Engine, raw_schema: str, shots: int, links: int) -> None:
    layout = plan(sources.from_path(DEFAULT_SCHEMA).filtered(only=["Shot", "Asset"]))
    metadata = create_raw_tables(layout, engine, raw_schema)
    shot, asset = (metadata.tables[f"{raw_schema}.{n}"] for n in ("shot", "asset"))
    assets = shots // 2
    with engine.begin() as conn:
        conn.execute(asset.insert(), [{"id": i, "code": f"a{i}", "_sg_retired": False} for i in range(1, assets + 1)])
        conn.execute(shot.insert(), [{
            "id": i, "code": f"s{i}", "_sg_retired": False,
            "assets_ids": ",".join(str((i * 7 + k) % assets + 1) for k in range(links)),
            "assets_type": ",".join(["Asset"] * links)} for i in range(1, shots + 1)])


def dbt_run(project: Path, target: str, env: dict[str, str]) -> float:
    from dbt.cli.main import dbtRunner

    with mock.patch.dict(os.environ, env):
        t0 = time.perf_counter()
        res = dbtRunner().invoke(["run", "--project-dir", str(project), "--profiles-dir", str(project),
                                  "--target", target, "--quiet", "--select",
                                  f"stg_shotgrid__shot stg_shotgrid__asset {BRIDGE}"])
        seconds = time.perf_counter() - t0
    if not res.success:
        raise SystemExit(f"dbt run failed in {project}: {res.exception}")
    return seconds


def timed(query: Callable[[], Any], repeats: int) -> float:
    query()  # warm-up
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        query()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1000


def bench_engine(name: str, url: str, shots: int, links: int, repeats: int, tmp: Path) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    raw = f"raw_{tag}"
    engine = sa.create_engine(url)
    load(engine, raw, shots, links)
    schema = sources.from_path(DEFAULT_SCHEMA).filtered(only=["Shot", "Asset"])
    out: dict[str, Any] = {}
    try:
        for bridges in ("view", "table"):
            target_schema = f"{bridges}_{tag}"
            project = tmp / f"{name}_{bridges}"
            env = {"SG2DBT_RAW_SCHEMA": raw, "SG2DBT_SCHEMA": target_schema, "SG2DBT_TARGET": name}
            if name == "duckdb":
                env["SG2DBT_DUCKDB_PATH"] = engine.url.database or ""
                engine.dispose()
            else:
                u = engine.url
                env.update(SG2DBT_PG_HOST=u.host or "127.0.0.1", SG2DBT_PG_PORT=str(u.port or 5432),
                           SG2DBT_PG_USER=u.username or "postgres", SG2DBT_PG_DBNAME=u.database or "postgres",
                           DBT_ENV_SECRET_PG_PASSWORD=u.password or "")
            build_project(schema, project, ProjectOptions(adapter=name, bridges=bridges))
            run_s = dbt_run(project, name, env)
            if name == "duckdb":
                from dbt.adapters.duckdb.connections import DuckDBConnectionManager

                DuckDBConnectionManager.close_all_connections()
            with engine.connect() as conn:
                figures = {}
                for q, sql in QUERIES.items():
                    statement = sa.text(sql.format(s=target_schema))
                    figures[q] = timed(lambda st=statement: conn.execute(st).all(), repeats)
                rows = conn.execute(sa.text(f"select count(*) from {target_schema}.{BRIDGE}")).scalar_one()
            out[bridges] = {"dbt_run_s": run_s, "rows": rows, **figures}
    finally:
        if name == "postgres":
            with engine.begin() as conn:
                for s in (raw, f"view_{tag}", f"table_{tag}"):
                    conn.execute(sa.text(f'drop schema if exists "{s}" cascade'))
        engine.dispose()
    return out


def render(results: dict[str, dict[str, Any]], shots: int, links: int, repeats: int) -> str:
    lines = [SECTION, "",
             f"`python bench/bench_bridges.py` on {platform.machine()} (2 cores, shared with other work), Python "
             f"{platform.python_version()}; the real schema's `{BRIDGE}` over {shots:,} Shot rows with {links} "
             f"assets each ({shots * links:,} links); query figures are the median of {repeats} runs after a "
             "warm-up, in ms; `dbt run` is the staging models of Shot and Asset plus the bridge, once, in s.", "",
             "| engine | bridge as | dbt run (s) | count query (ms) | join query (ms) |", "|---|---|---|---|---|"]
    for engine, r in results.items():
        for bridges in ("view", "table"):
            f = r[bridges]
            lines.append(f"| {engine} | {bridges} | {f['dbt_run_s']:.1f} | {f['count']:.1f} | {f['join']:.1f} |")
        ratio = {q: r["view"][q] / r["table"][q] for q in QUERIES}
        shown = {q: f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" for q, r in ratio.items()}
        lines.append(f"| {engine} | view / table | | {shown['count']} | {shown['join']} |")
    lines += ["", "Bridges are tables by default (`sg2dbt build --bridges view` switches back); docs/dbt-project.md."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=20000)
    ap.add_argument("--links", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--pg-url", default=os.environ.get("SG2DBT_PG_URL"))
    ap.add_argument("--no-write", action="store_true", help="print the section instead of writing BENCHMARKS.md")
    args = ap.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["duckdb"] = bench_engine("duckdb", f"duckdb:///{Path(tmp) / 'bench.duckdb'}", args.shots,
                                         args.links, args.repeats, Path(tmp))
        if args.pg_url:
            results["postgres"] = bench_engine("postgres", args.pg_url, args.shots, args.links, args.repeats,
                                               Path(tmp))
    text = render(results, args.shots, args.links, args.repeats)
    if not args.no_write:
        write_section(SECTION, text)
    print(text)


if __name__ == "__main__":
    main()
