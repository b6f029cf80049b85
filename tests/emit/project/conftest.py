"""Shared by the dbt tests: one local Spark for the whole run (a JVM and a Hive catalog cost ~20 s to start,
and a process holds one SparkSession), and ``dbt build`` on it through dbt-spark's ``session`` method."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest


def environ(**values: str) -> Any:
    return mock.patch.dict(os.environ, values)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Local Spark with a Hive catalog (what dbt-spark's session method asks for) in a temporary directory;
    dbt-spark's ``getOrCreate`` finds this session. Skips, saying why, without pyspark, dbt-spark or Java."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install '.[test]')")
    pytest.importorskip("dbt.adapters.spark", reason="dbt-spark is not installed (pip install '.[test]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for Spark (Java 17 is expected on these machines)")
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


def dbt_spark(project: Path, command: str = "build", *args: str, warn: bool = False, **env: str) -> list[Any]:
    """``dbt <command> --target spark`` in this process; every node must succeed (``warn``: or warn). Returns
    dbt's results."""
    from dbt.cli.main import dbtRunner

    with environ(SG2DBT_TARGET="spark", **env):
        res = dbtRunner().invoke([command, "--project-dir", str(project), "--profiles-dir", str(project),
                                  "--target", "spark", "--quiet", *args])
    results = list(getattr(res.result, "results", None) or [])
    bad = [f"{r.node.name}: {r.status} {(r.message or '')[:300]}" for r in results
           if str(r.status) not in ("success", "pass", *(("warn",) if warn else ()))]
    assert res.success and results and not bad, bad or res.exception
    return results
