"""``sg2dbt demo`` end to end: the whole product on the demo studio, on DuckDB, in one directory.

The same steps a studio runs against its own site, with each step's real implementation: generate a dump
(instead of ``sg2dbt schema dump`` + ``sg2dbt dump`` on a live site), ``sg2dbt build``, create the raw
tables, ``sg2dbt load --from-dump``, add the example marts, ``dbt build``. Nothing here re-implements a
step; it only chains the library calls, so the demo shows what the commands do.

Layout of the demo directory (re-running the demo refreshes it in place)::

    <dir>/dump/           synthetic find()-shaped records, one <Entity>.jsonl per entity
    <dir>/project/        the dbt project (models/marts/ holds the example marts)
    <dir>/studio.duckdb   the warehouse: raw tables in shotgrid_raw, staging views and marts in analytics
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA
from sg2dbt.core.model import Schema
from sg2dbt.demo import paths
from sg2dbt.demo.generate import DEFAULT_SEED, generate, write_dump
from sg2dbt.demo.report import Report, read_report
from sg2dbt.schema import sources

MARTS = ("shot_progress_by_sequence", "shot_progress_by_episode", "task_time_vs_bid")
DUMP_DIR, PROJECT_DIR, DB_FILE = "dump", "project", "studio.duckdb"
RAW_SCHEMA, MODEL_SCHEMA = DEFAULT_RAW_SCHEMA, "analytics"


@dataclass(frozen=True)
class DemoResult:
    loaded: dict[str, int]          # rows in the raw tables per entity after the load (live and retired)
    dbt_counts: dict[str, int]      # dbt node status -> count ("success", "pass", "warn", ...)
    report: Report
    seconds: float


Step = Callable[[str], None]


def _check_workdir(workdir: Path) -> None:
    """Refuse to write into a directory that holds something other than an earlier demo."""
    if not workdir.exists():
        return
    if not workdir.is_dir():
        raise Sg2dbtError(f"{workdir}: exists and is not a directory")
    ours = {DUMP_DIR, PROJECT_DIR, DB_FILE, f"{DB_FILE}.wal"}
    strangers = sorted(p.name for p in workdir.iterdir() if p.name not in ours)
    if strangers:
        raise Sg2dbtError(f"{workdir}: not an sg2dbt demo directory (it holds {', '.join(strangers[:5])}); "
                          f"choose another --dir")


def _env(**values: str) -> Any:
    """Pin the generated profile's env_var() settings for the demo's dbt run, whatever the shell exports
    (a user with SG2DBT_TARGET=postgres set for their real project still gets the demo on DuckDB); the
    environment is restored afterwards."""
    from unittest import mock

    return mock.patch.dict(os.environ, values)


def scaffold(schema: Schema, project_dir: Path, db_path: Path) -> None:
    """``sg2dbt build --adapter duckdb``, then the example marts into models/marts/ (a user directory
    that ``sg2dbt build`` never touches)."""
    from sg2dbt.emit.project import ProjectOptions, build_project

    build_project(schema, project_dir, ProjectOptions(adapter="duckdb", raw_schema=RAW_SCHEMA, db_path=db_path))
    marts = project_dir / "models" / "marts"
    marts.mkdir(parents=True, exist_ok=True)
    for src in sorted(paths.marts_dir().iterdir()):
        if src.suffix in (".sql", ".yml"):
            shutil.copyfile(src, marts / src.name)


def load(schema: Schema, dump_dir: Path, db_path: Path) -> dict[str, int]:
    """``sg2dbt load --from-dump``: creates the raw tables and loads every entity; rows per entity after."""
    import sqlalchemy as sa

    from sg2dbt.core.layout import plan
    from sg2dbt.evolve.migrate import require_no_drift
    from sg2dbt.loader import DumpSource, LoadOptions
    from sg2dbt.loader import load as load_records

    engine = sa.create_engine(f"duckdb:///{db_path}")
    try:
        summary = load_records(engine, plan(schema), DumpSource(dump_dir), LoadOptions(raw_schema=RAW_SCHEMA),
                               check=require_no_drift)
    finally:
        engine.dispose()  # dbt opens the same file next, in this process: no connection may stay open
    if summary.failed:
        raise Sg2dbtError(f"loading the demo dump failed: {summary.failed[0].error}")
    return {e.entity: e.rows_live + e.rows_retired for e in summary.entities}


def run_dbt(project_dir: Path, db_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """``dbt build`` through dbtRunner; returns model relations and node counts by status."""
    from dbt.cli.main import dbtRunner

    args = ["build", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--target", "duckdb",
            "--quiet"]
    with _env(SG2DBT_TARGET="duckdb", SG2DBT_DUCKDB_PATH=str(db_path), SG2DBT_SCHEMA=MODEL_SCHEMA,
              SG2DBT_RAW_SCHEMA=RAW_SCHEMA):
        res = dbtRunner().invoke(args)
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()  # dbt-duckdb keeps the file open in-process otherwise
    results = list(getattr(res.result, "results", None) or [])
    failed = [f"{r.node.name}: {r.status}" for r in results if str(r.status) in ("error", "fail", "skipped")]
    if not res.success or failed:
        detail = "; ".join(failed[:5]) or str(res.exception or "see the dbt output above")
        raise Sg2dbtError(f"dbt build failed in {project_dir}: {detail}")
    counts = dict(Counter(str(r.status) for r in results))
    relations = {r.node.name: r.node.relation_name for r in results
                 if r.node.resource_type == "model" and r.node.relation_name}
    missing = [m for m in MARTS if m not in relations]
    if missing:
        raise Sg2dbtError(f"dbt build did not build the example marts {missing} in {project_dir}")
    return relations, counts


def run_demo(workdir: Path, *, seed: int = DEFAULT_SEED, step: Step = lambda _msg: None) -> DemoResult:
    """Run every step into ``workdir``; ``step`` is told what is about to happen (for a progress display)."""
    started = time.perf_counter()
    workdir = workdir.resolve()
    _check_workdir(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:   # a parent is a file, or not writable
        raise Sg2dbtError(f"{workdir}: cannot create the demo directory: {exc.strerror} "
                          f"({exc.filename}); choose another --dir") from None
    dump_dir, project_dir, db_path = workdir / DUMP_DIR, workdir / PROJECT_DIR, workdir / DB_FILE
    schema = sources.from_path(paths.schema_path())

    step(f"generating the studio's dump (seed {seed})")
    if dump_dir.exists():
        shutil.rmtree(dump_dir)
    dumped = write_dump(generate(schema, seed), dump_dir)

    step("scaffolding the dbt project (sg2dbt build) and adding the example marts")
    scaffold(schema, project_dir, db_path)

    step(f"loading {sum(dumped.values()):,} records into DuckDB (sg2dbt load --from-dump)")
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)  # a fresh warehouse: the demo's numbers are the dump's numbers
    loaded = load(schema, dump_dir, db_path)
    if loaded != dumped:
        short = sorted(e for e in dumped if loaded.get(e) != dumped[e])
        raise Sg2dbtError(f"the raw tables do not hold the dump's records for {short}: {loaded} != {dumped}")

    step("running dbt build (staging views, bridges, marts, tests)")
    relations, dbt_counts = run_dbt(project_dir, db_path)

    report = read_report(db_path, relations)
    return DemoResult(loaded=loaded, dbt_counts=dbt_counts, report=report, seconds=time.perf_counter() - started)
