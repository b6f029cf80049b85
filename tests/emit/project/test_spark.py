"""The generated project on a distributed engine: Apache Spark in local mode through dbt-spark's ``session``
method, in this process (pyspark, Java 17). The demo studio is loaded into DuckDB by ``sg2dbt demo``, landed
as Parquet by ``sg2dbt.loader.parquet`` (what ``sg2dbt land-parquet`` runs), registered by the project's own
on-run-start hook, and built with ``dbt build --target spark``. Every model must hold the same rows as on
DuckDB: row counts and, for every key and link column, its count and sum ("link checksums")."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.demo.run import MODEL_SCHEMA, RAW_SCHEMA, run_demo
from sg2dbt.loader.parquet import land_parquet

pytestmark = pytest.mark.slow

pytest.importorskip("pyspark", reason="pyspark is not installed (pip install '.[test]')")
pytest.importorskip("dbt.adapters.spark", reason="dbt-spark is not installed (pip install '.[test]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime for Spark (Java 17 is expected on these machines)", allow_module_level=True)


@contextmanager
def environ(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One local Spark for the module, with a Hive catalog (what dbt-spark's session method asks for) kept in a
    temporary directory; dbt-spark's ``getOrCreate`` finds this session."""
    from pyspark.sql import SparkSession

    home = tmp_path_factory.mktemp("spark")
    session = (SparkSession.builder.master("local[2]").appName("sg2dbt-tests")
               .config("spark.sql.warehouse.dir", str(home / "warehouse"))
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .enableHiveSupport().getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def dbt_build(project: Path, target: str, **env: str) -> list[Any]:
    """``dbt build`` in this process; every node must succeed. Returns dbt's results."""
    from dbt.cli.main import dbtRunner

    with environ(SG2DBT_TARGET=target, **env):
        res = dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir", str(project),
                                  "--target", target, "--quiet"])
    results = list(getattr(res.result, "results", None) or [])
    bad = [f"{r.node.name}: {r.status} {(r.message or '')[:300]}" for r in results
           if str(r.status) not in ("success", "pass")]
    assert res.success and results and not bad, bad or res.exception
    return results


def checksums(query: Any, relation: str, columns: list[str]) -> tuple[int, ...]:
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

    results = dbt_build(demo / "project", "spark", SG2DBT_SPARK_RAW_PATH=str(landing),
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
