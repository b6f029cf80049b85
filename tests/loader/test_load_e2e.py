"""End to end: ``sg2dbt load`` from a Mockgun site, ``sg2dbt build``, ``dbt build``, on DuckDB and PostgreSQL.

Staging views hold exactly the site's live records, and link columns and bridges join to the linked
entities' staging views as the site's links say. One dbt build per target.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.project import ProjectOptions, build_project
from sg2dbt.emit.project.staging import plan as staging_plan
from sg2dbt.loader import LoadOptions, SiteSource, load
from sg2dbt.schema import sources
from tests.emit.project.test_build_dbt import dbt, env
from tests.support.sgsite import seed_mockgun

pytestmark = pytest.mark.slow

ENTITIES = ["Asset", "Project", "Sequence", "Shot", "Task"]
N = 40


@dataclass
class Loaded:
    sg: Any
    schema: Schema
    engine: sa.Engine
    target_schema: str
    build: Any
    models: dict[str, str]          # entity -> staging model name

    def scalar(self, sql: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql.format(s=self.target_schema))).scalar()


def _site(real_schema_pickles: tuple[Path, Path]) -> tuple[Any, Schema]:
    from shotgun_api3.lib.mockgun import Shotgun

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    sg = Shotgun("https://mock.example.com", "e2e", "not-a-key")
    schema = sources.from_mockgun_pickles(*real_schema_pickles).filtered(only=ENTITIES)
    for entity in ENTITIES:
        seed_mockgun(sg, schema, entity, range(1, N + 1))
        for rid in (2, 9):
            sg.delete(entity, rid)
    return sg, schema


def _run(tmp: Path, real_schema_pickles: tuple[Path, Path], engine: sa.Engine, options: ProjectOptions,
         raw_schema: str, target_schema: str, **env_values: str) -> Loaded:
    sg, schema = _site(real_schema_pickles)
    layout = plan(schema)
    summary = load(engine, layout, SiteSource(lambda: sg), LoadOptions(raw_schema=raw_schema))
    assert not summary.failed, [e.error for e in summary.failed]
    engine.dispose()   # DuckDB: dbt must be the file's only user while it runs
    project = tmp / "project"
    build_project(schema, project, options)
    with env(SG2DBT_RAW_SCHEMA=raw_schema, SG2DBT_SCHEMA=target_schema, SG2DBT_TARGET=options.adapter,
             **env_values):
        result = dbt(project, "build")
    if options.adapter == "duckdb":
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()
    models = {e: m.name for e, m in staging_plan(layout, options).models.items()}
    return Loaded(sg, schema, engine, target_schema, result, models)


@pytest.fixture(scope="module")
def duck(real_schema_pickles: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    tmp = tmp_path_factory.mktemp("load_e2e_duckdb")
    db = tmp / "warehouse.duckdb"
    engine = sa.create_engine(f"duckdb:///{db}")
    try:
        yield _run(tmp, real_schema_pickles, engine, ProjectOptions(adapter="duckdb", db_path=db),
                   "shotgrid_raw", "analytics")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg(real_schema_pickles: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
       pg_engine: sa.Engine) -> Iterator[Loaded]:
    tag = uuid.uuid4().hex[:10]
    raw_schema, target = f"raw_{tag}", f"stg_{tag}"
    url = pg_engine.url
    try:
        yield _run(tmp_path_factory.mktemp("load_e2e_pg"), real_schema_pickles, pg_engine,
                   ProjectOptions(adapter="postgres", raw_schema=raw_schema), raw_schema, target,
                   SG2DBT_PG_HOST=url.host or "127.0.0.1", SG2DBT_PG_PORT=str(url.port or 5432),
                   SG2DBT_PG_USER=url.username or "postgres", SG2DBT_PG_DBNAME=url.database or "postgres",
                   DBT_ENV_SECRET_PG_PASSWORD=url.password or "")
    finally:
        with pg_engine.begin() as conn:
            for s in (target, raw_schema):
                conn.execute(sa.text(f'drop schema if exists "{s}" cascade'))


@pytest.fixture(params=["duck", pytest.param("pg", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest) -> Loaded:
    value: Loaded = request.getfixturevalue(request.param)
    return value


def test_dbt_build_passes(loaded: Loaded) -> None:
    assert loaded.build.success, loaded.build.exception
    assert not [r.node.name for r in loaded.build.result if str(r.status) in ("error", "fail", "skipped")]


def test_staging_counts_equal_site_counts(loaded: Loaded) -> None:
    for entity in ENTITIES:
        live = len(loaded.sg.find(entity, [], ["id"]))
        assert loaded.scalar(f"select count(*) from {{s}}.{loaded.models[entity]}") == live, entity


def test_links_join_as_the_site_says(loaded: Loaded) -> None:
    sg = loaded.sg
    live_sequences = {r["id"] for r in sg.find("Sequence", [], ["id"])}
    shots = sg.find("Shot", [], ["sg_sequence", "assets"])
    shot, seq = loaded.models["Shot"], loaded.models["Sequence"]
    expected = sum(1 for r in shots if r["sg_sequence"] and r["sg_sequence"]["id"] in live_sequences)
    assert expected > 0
    assert loaded.scalar(f"select count(*) from {{s}}.{shot} s join {{s}}.{seq} q "
                         f"on q.sequence_id = s.sg_sequence_id") == expected
    # multi-entity: the bridge has one row per link, in SG's order
    bridge = next(b.name for b in staging_plan(plan(loaded.schema), ProjectOptions()).models["Shot"].bridges
                  if b.raw_field.field.name == "assets")
    assert loaded.scalar(f"select count(*) from {{s}}.{bridge}") == sum(len(r["assets"]) for r in shots)
