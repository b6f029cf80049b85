"""dbt Labs' dbt-project-evaluator on the generated project of the shared real schema: no model without a
primary-key test, test coverage of at least 90% (docs/dbt-project.md records the figures).

The evaluator and dbt-utils cannot come from the dbt hub offline: the test installs them as ``local:`` packages
from copies under ``$SG2DBT_DBT_PACKAGES`` (``dbt-project-evaluator/`` and ``dbt-utils/``, e.g. extracted with
``git archive`` from their repositories) and skips, saying so, when that variable is unset. Nothing of theirs is
kept in this repository.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from sg2dbt.emit.project import ProjectOptions, build_project
from sg2dbt.schema import sources
from tests.emit.project.test_build_dbt import dbt

pytestmark = pytest.mark.slow

PACKAGES = os.environ.get("SG2DBT_DBT_PACKAGES", "")
if not PACKAGES or not all((Path(PACKAGES) / p / "dbt_project.yml").is_file()
                           for p in ("dbt-project-evaluator", "dbt-utils")):
    pytest.skip("SG2DBT_DBT_PACKAGES does not point at local copies of dbt-project-evaluator and dbt-utils "
                "(the dbt hub is not reachable offline)", allow_module_level=True)


@pytest.fixture(scope="module")
def evaluated(real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    tmp = tmp_path_factory.mktemp("evaluator")
    utils, evaluator = tmp / "dbt-utils", tmp / "dbt-project-evaluator"
    shutil.copytree(Path(PACKAGES) / "dbt-utils", utils)
    shutil.copytree(Path(PACKAGES) / "dbt-project-evaluator", evaluator)
    # the evaluator's own dependency on dbt_utils, pointed at the local copy
    (evaluator / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(utils)}]}))
    project = tmp / "project"
    build_project(sources.from_path(real_schema_path), project, ProjectOptions(db_path=tmp / "warehouse.duckdb"))
    (project / "packages.yml").write_text(yaml.safe_dump({"packages": [{"local": str(utils)},
                                                                       {"local": str(evaluator)}]}))
    assert dbt(project, "deps", "--quiet").success
    res = dbt(project, "run", "--select", "package:dbt_project_evaluator", "--quiet")
    assert res.success, res.exception
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    con = duckdb.connect(str(tmp / "warehouse.duckdb"), read_only=True)
    yield con
    con.close()


def test_no_model_lacks_a_primary_key_test(evaluated: duckdb.DuckDBPyConnection) -> None:
    missing = evaluated.execute("select resource_name from analytics.fct_missing_primary_key_tests").fetchall()
    assert missing == []
    models = evaluated.execute("select count(*) from analytics.int_model_test_summary "
                               "where resource_type = 'model'").fetchone()
    assert models == (191,)  # the evaluator did see the generated models


def test_test_coverage_is_at_least_90_percent(evaluated: duckdb.DuckDBPyConnection) -> None:
    total, tested, pct, staging_pct = evaluated.execute(
        "select total_models, tested_models, test_coverage_pct, staging_test_coverage_pct "
        "from analytics.fct_test_coverage").fetchone()
    print(f"evaluator: {tested}/{total} models tested, coverage {pct}%, staging {staging_pct}%")
    assert total == 191 and pct >= 90 and staging_pct >= 90


def test_every_model_and_source_is_documented(evaluated: duckdb.DuckDBPyConnection) -> None:
    assert evaluated.execute("select count(*) from analytics.fct_undocumented_models").fetchone() == (0,)
    assert evaluated.execute("select count(*) from analytics.fct_undocumented_source_tables").fetchone() == (0,)
    assert evaluated.execute("select count(*) from analytics.fct_sources_without_freshness").fetchone() == (0,)
