"""The demo project on three engines: DuckDB (``sg2dbt demo``), PostgreSQL and Apache Spark in local mode
(dbt-spark's ``session`` method, in this process: pyspark, Java 17). On Spark the demo's raw tables are landed as
Parquet by ``sg2dbt.loader.parquet`` (what ``sg2dbt land-parquet`` runs) and registered by the project's own
on-run-start hook; on PostgreSQL the loader loads the same dump. Every model (staging, bridges, the example
marts) must hold the same rows as on DuckDB: row counts and, for every key and link column, its count and sum
("link checksums"). The Spark session is shared with test_build_dbt (tests/emit/project/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.demo.run import MODEL_SCHEMA, RAW_SCHEMA, run_demo
from sg2dbt.loader.parquet import land_parquet
from tests.emit.project.conftest import dbt_spark
from tests.emit.project.test_build_dbt import dbt, env

pytestmark = pytest.mark.slow


def checksums(query: Callable[[str], Any], relation: str, columns: list[str]) -> tuple[int, ...]:
    """Row count, then count and sum of every key/link column: equal on two engines only if the rows are."""
    parts = ["count(*)"] + [f"count({c}), coalesce(sum({c}), 0)" for c in columns]
    return tuple(int(v) for v in query(f"select {', '.join(parts)} from {relation}"))


def link_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute("select column_name, data_type from information_schema.columns "
                       "where table_schema = ? and table_name = ? order by ordinal_position", [schema, table])
    return [n for n, t in rows.fetchall() if (n.endswith("_id") or n == "link_position")
            and t in ("BIGINT", "INTEGER", "HUGEINT")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``sg2dbt demo``: the studio loaded into DuckDB and built there (staging, bridges, marts, tests)."""
    workdir = tmp_path_factory.mktemp("demo") / "studio"
    run_demo(workdir)
    return workdir


@pytest.fixture(scope="module")
def duck_models(demo: Path) -> dict[str, tuple[list[str], tuple[int, ...]]]:
    """Per model in DuckDB: its key/link columns and their checksums."""
    with duckdb.connect(str(demo / "studio.duckdb"), read_only=True) as con:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                            "where table_schema = ? order by 1", [MODEL_SCHEMA]).fetchall()]
        out = {}
        for t in tables:
            columns = link_columns(con, MODEL_SCHEMA, t)
            out[t] = (columns, checksums(lambda q: con.execute(q).fetchone(), f"{MODEL_SCHEMA}.{t}", columns))
        return out


def test_demo_builds_on_spark_with_the_rows_of_duckdb(
        demo: Path, duck_models: dict[str, tuple[list[str], tuple[int, ...]]], spark: Any) -> None:
    from sg2dbt.demo import paths
    from sg2dbt.schema import sources

    landing = demo.parent / "landing"
    engine = sa.create_engine(f"duckdb:///{demo / 'studio.duckdb'}")
    try:
        landed = land_parquet(engine, plan(sources.from_path(paths.schema_path())), RAW_SCHEMA, landing)
    finally:
        engine.dispose()
    assert sum(landed.values()) > 7000
    assert not any(p.name.startswith(".") for p in landing.rglob("*")), "temporary files left in the landing"

    results = dbt_spark(demo / "project", "build", SG2DBT_SPARK_RAW_PATH=str(landing),
                        SG2DBT_SCHEMA=MODEL_SCHEMA, SG2DBT_RAW_SCHEMA=RAW_SCHEMA)
    built = {r.node.name for r in results if r.node.resource_type == "model"}
    assert built == set(duck_models), "the Spark build made other models than DuckDB's"

    # the Parquet raw tables hold what DuckDB holds
    with duckdb.connect(str(demo / "studio.duckdb"), read_only=True) as con:
        for table, rows in landed.items():
            assert con.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchone() == (rows,)
            assert spark.sql(f"select count(*) from {RAW_SCHEMA}.{table}").collect()[0][0] == rows

    spark_models = {name: checksums(lambda q: spark.sql(q).collect()[0], f"{MODEL_SCHEMA}.{name}", columns)
                    for name, (columns, _) in duck_models.items()}
    differ = {m: (sums, spark_models[m]) for m, (_, sums) in duck_models.items() if sums != spark_models[m]}
    assert not differ, differ
    assert sum(v[0] for v in spark_models.values()) > 7000
    assert sum(len(columns) for columns, _ in duck_models.values()) > 50  # the links are compared, not only counts


def test_demo_builds_on_postgres_with_the_rows_of_duckdb(
        demo: Path, duck_models: dict[str, tuple[list[str], tuple[int, ...]]], pg_engine: sa.Engine) -> None:
    from sg2dbt.demo import paths
    from sg2dbt.evolve.migrate import require_no_drift
    from sg2dbt.loader import DumpSource, LoadOptions, load
    from sg2dbt.schema import sources

    tag = uuid.uuid4().hex[:10]
    raw, target = f"raw_{tag}", f"stg_{tag}"
    url = pg_engine.url
    try:
        summary = load(pg_engine, plan(sources.from_path(paths.schema_path())), DumpSource(demo / "dump"),
                       LoadOptions(raw_schema=raw), check=require_no_drift)
        assert not summary.failed
        with env(SG2DBT_TARGET="postgres", SG2DBT_RAW_SCHEMA=raw, SG2DBT_SCHEMA=target,
                 SG2DBT_PG_HOST=url.host or "127.0.0.1", SG2DBT_PG_PORT=str(url.port or 5432),
                 SG2DBT_PG_USER=url.username or "postgres", SG2DBT_PG_DBNAME=url.database or "postgres",
                 DBT_ENV_SECRET_PG_PASSWORD=url.password or ""):
            res = dbt(demo / "project", "build", "--target", "postgres", "--quiet")
        bad = [f"{r.node.name}: {r.status}" for r in res.result if str(r.status) not in ("success", "pass")]
        assert res.success and not bad, bad or res.exception
        built = {r.node.name for r in res.result if r.node.resource_type == "model"}
        assert built == set(duck_models), "the PostgreSQL build made other models than DuckDB's"
        with pg_engine.connect() as conn:
            pg_models = {name: checksums(lambda q: conn.execute(sa.text(q)).one(), f"{target}.{name}", columns)
                         for name, (columns, _) in duck_models.items()}
        differ = {m: (sums, pg_models[m]) for m, (_, sums) in duck_models.items() if sums != pg_models[m]}
        assert not differ, differ
    finally:
        with pg_engine.begin() as conn:
            for s in (target, raw):
                conn.execute(sa.text(f'drop schema if exists "{s}" cascade'))
