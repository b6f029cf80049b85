"""End to end: real schema -> `sg2dbt build` -> `dbt parse` -> raw tables + rows -> `dbt build`, on DuckDB and
PostgreSQL, then the joins a BI user writes. One dbt build per target (module-scoped fixtures)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import RawField, RawLayout, Role, plan
from sg2dbt.core.typemap import Logical, Shape
from sg2dbt.emit.project import ProjectOptions, build_project, create_raw_tables
from sg2dbt.emit.project.staging import plan as staging_plan
from sg2dbt.schema import sources

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
SAMPLE: dict[Logical, Any] = {
    Logical.TEXT: "x", Logical.BIGINT: 7, Logical.DOUBLE: 1.5, Logical.BOOLEAN: False,
    Logical.DATE: dt.date(2026, 1, 2), Logical.TIMESTAMPTZ: NOW, Logical.JSON: {"k": ["v"]},
}

# Links a BI user joins through; the expectations below follow from these rows and nothing else.
# (entity, id): {field: value}; entity links as (type, id), multi-entity as [(type, id), ...].
LINKS: dict[tuple[str, int], dict[str, Any]] = {
    ("Version", 1): {"entity": ("Shot", 1)},
    ("Version", 2): {"entity": ("Asset", 1)},
    ("Version", 3): {"entity": ("Shot", 2), "_retired": True},
    ("Version", 4): {"entity": ("Shot", 1)},
    ("Shot", 1): {"assets": [("Asset", 1), ("Asset", 3)]},
    ("Shot", 2): {"assets": [("Asset", 2)]},
    ("Shot", 3): {"assets": [("Asset", 1)], "_retired": True},
    ("Task", 1): {"entity": ("Shot", 2)},
    ("Task", 2): {"entity": ("Asset", 3)},
    ("Task", 3): {"entity": ("Sequence", 1)},
    ("Note", 1): {"note_links": [("Shot", 2), ("Asset", 1), ("Version", 4)]},
    ("Note", 2): {"note_links": [("", 9)]},  # a list without its types: the type is null on every adapter
}
ROWS_PER_ENTITY = 2


def default_links(rf: RawField, rid: int, present: set[str]) -> list[tuple[str, int]] | None:
    """Record 1 of every entity links ids 1 and 2 in each multi-entity field without a LINKS entry, so every
    bridge has rows; the type is the first valid type the schema holds, else none."""
    if rid != 1 or rf.shape is not Shape.MULTI_ENTITY:
        return None
    target = next((t for t in sorted(rf.field.valid_types) if t in present), "")
    return [(target, 1), (target, 2)]


def raw_rows(layout: RawLayout) -> dict[str, list[dict[str, Any]]]:
    """A few rows per table with a value in every value column, plus the links above."""
    ids: dict[str, set[int]] = {t.entity.name: set(range(1, ROWS_PER_ENTITY + 1)) for t in layout}
    for (entity, rid), spec in LINKS.items():
        ids[entity].add(rid)
        for link in spec.values():  # every link target exists
            for target, tid in ([link] if isinstance(link, tuple) else link if isinstance(link, list) else []):
                if target:
                    ids[target].add(tid)
    present = {t.entity.name for t in layout}
    out: dict[str, list[dict[str, Any]]] = {}
    for t in layout:
        rows = []
        for rid in sorted(ids[t.entity.name]):
            spec = LINKS.get((t.entity.name, rid), {})
            row: dict[str, Any] = {}
            for rf in t.fields.values():
                for c in rf.columns:
                    if c.role is Role.ID:
                        row[c.attr] = rid
                    elif c.role is Role.VALUE:
                        values = rf.field.valid_values
                        row[c.attr] = values[0] if values else SAMPLE[c.logical]
                    else:
                        row[c.attr] = None
                link = spec.get(rf.field.name, default_links(rf, rid, present))
                if link is None:
                    continue
                if isinstance(link, tuple):
                    row[rf.column(Role.LINK_TYPE).attr], row[rf.column(Role.LINK_ID).attr] = link
                else:
                    row[rf.column(Role.LINK_IDS).attr] = ",".join(str(i) for _, i in link)
                    row[rf.column(Role.LINK_TYPE).attr] = ",".join(ty for ty, _ in link)
            row["_sg_retired"] = spec.get("_retired", False)
            row["_sg_loaded_at"] = NOW
            rows.append(row)
        out[t.name] = rows
    return out


def load_rows(layout: RawLayout, engine: sa.Engine, raw_schema: str) -> None:
    metadata = create_raw_tables(layout, engine, raw_schema)
    rows = raw_rows(layout)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            conn.execute(table.insert(), rows[table.name])


@contextmanager
def env(**values: str) -> Iterator[None]:
    with mock.patch.dict(os.environ, values):
        yield


def dbt(project: Path, *args: str, events: list[Any] | None = None) -> Any:
    from dbt.cli.main import dbtRunner

    callbacks = [events.append] if events is not None else []
    # The generated profiles.yml finds the DuckDB file relative to DBT_PROJECT_DIR (or the working directory).
    with env(DBT_PROJECT_DIR=str(project)):
        return dbtRunner(callbacks=callbacks).invoke([*args, "--project-dir", str(project),
                                                     "--profiles-dir", str(project)])


# A user's own model: it calls the portable default__ implementation directly, so that one runs too, and it
# lives under models/marts/, which a refresh must leave alone.
USER_MART = """select * from (
{{ default__unnest_links(source('shotgrid', 'shot'), 'shot_id', 'assets_ids', 'assets_type') }}
) as links
"""
# The bridge's output names are the macro's arguments (the bridge models pass sg2dbt.core.naming's).
RENAMED_MART = """{{ sg2dbt_unnest_links(source('shotgrid', 'shot'), 'shot_id', 'assets_ids', 'assets_type',
                        position='pos', linked_type='kind', linked_id='target') }}
"""


@dataclass
class Built:
    project: Path
    layout: RawLayout
    parse_events: list[Any]
    build: Any
    engine: sa.Engine
    schema: str              # where dbt wrote the views

    def rows(self, sql: str) -> set[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return {tuple(r) for r in conn.execute(sa.text(sql.format(s=self.schema)))}


def build_and_run(tmp: Path, schema_path: Path, options: ProjectOptions, engine: sa.Engine, raw_schema: str,
                  target_schema: str, *, parse: bool, **env_values: str) -> Built:
    schema = sources.from_path(schema_path)
    layout = plan(schema)
    project = tmp / "project"
    build_project(schema, project, options)
    (project / "models" / "marts").mkdir(parents=True)
    (project / "models" / "marts" / "user_default_unnest.sql").write_text(USER_MART, encoding="utf-8")
    (project / "models" / "marts" / "user_renamed_unnest.sql").write_text(RENAMED_MART, encoding="utf-8")
    load_rows(layout, engine, raw_schema)
    engine.dispose()  # on DuckDB, dbt must be the file's only user while it runs
    import dbt.jsonschemas.jsonschemas as js

    parse_events: list[Any] = []
    with env(SG2DBT_RAW_SCHEMA=raw_schema, SG2DBT_SCHEMA=target_schema, SG2DBT_TARGET=options.adapter,
             **env_values):
        if parse:  # parsing does not depend on the target: one parse (on DuckDB) is enough
            # dbt skips its JSON-schema checks on duckdb/postgres; pretend they are supported to see deprecations.
            with mock.patch.object(js, "_JSONSCHEMA_SUPPORTED_ADAPTERS", {"duckdb", "postgres"}):
                parsed = dbt(project, "parse", "--no-partial-parse", events=parse_events)
            assert parsed.success, parsed.exception
        result = dbt(project, "build")
    if options.adapter == "duckdb":
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager

        DuckDBConnectionManager.close_all_connections()  # dbt keeps the file open in-process otherwise
    return Built(project, layout, parse_events, result, engine, target_schema)


@pytest.fixture(scope="module")
def duck(real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("dbt_duckdb")
    db = tmp / "warehouse.duckdb"
    engine = sa.create_engine(f"duckdb:///{db}")
    try:
        yield build_and_run(tmp, real_schema_path, ProjectOptions(adapter="duckdb", db_path=db), engine,
                            "shotgrid_raw", "analytics", parse=True)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def pg(real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory, pg_engine: sa.Engine) -> Iterator[Built]:
    tag = uuid.uuid4().hex[:10]
    raw_schema, target = f"raw_{tag}", f"stg_{tag}"
    url = pg_engine.url
    try:
        built = build_and_run(
            tmp_path_factory.mktemp("dbt_postgres"), real_schema_path,
            ProjectOptions(adapter="postgres", raw_schema=raw_schema), pg_engine, raw_schema, target, parse=False,
            SG2DBT_PG_HOST=url.host or "127.0.0.1", SG2DBT_PG_PORT=str(url.port or 5432),
            SG2DBT_PG_USER=url.username or "postgres", SG2DBT_PG_DBNAME=url.database or "postgres",
            DBT_ENV_SECRET_PG_PASSWORD=url.password or "")
        yield built
    finally:
        with pg_engine.begin() as conn:
            for s in (target, raw_schema):
                conn.execute(sa.text(f'drop schema if exists "{s}" cascade'))


@pytest.fixture(scope="module")
def spark_real(duck: Built, real_schema_path: Path, tmp_path_factory: pytest.TempPathFactory,
               spark: Any) -> dict[str, int]:
    """The real schema's project on Spark (local, dbt-spark's session method): the DuckDB fixture's raw tables
    landed as Parquet (``sg2dbt land-parquet``), then ``dbt build --target spark``. Rows per model."""
    from sg2dbt.loader.parquet import land_parquet
    from tests.emit.project.conftest import dbt_spark

    tmp = tmp_path_factory.mktemp("dbt_spark")
    project, landing = tmp / "project", tmp / "landing"
    build_project(sources.from_path(real_schema_path), project, ProjectOptions(adapter="spark"))
    engine = sa.create_engine(f"duckdb:///{duck.project.parent / 'warehouse.duckdb'}")
    try:
        land_parquet(engine, duck.layout, "shotgrid_raw", landing)
    finally:
        engine.dispose()
    # Every model, and of the tests the bridges' key test (sg2dbt's own generic test): all 1,007 tests took
    # 254 s on Spark here against 83 s for the 191 models; DuckDB and PostgreSQL run every test.
    # Schemas of their own: the demo's Spark test registers tables of the same names in this session.
    results = dbt_spark(project, "build", "--exclude", "test_name:unique", "test_name:not_null",
                        "test_name:relationships", "test_name:accepted_values", SG2DBT_SPARK_RAW_PATH=str(landing),
                        SG2DBT_RAW_SCHEMA="real_raw", SG2DBT_SCHEMA="real_analytics")
    bridges = staging_plan(duck.layout, ProjectOptions()).bridges
    assert sum(r.node.resource_type == "test" for r in results) == len(bridges)
    models = [r.node.name for r in results if r.node.resource_type == "model"]
    return {m: spark.sql(f"select count(*) from real_analytics.{m}").collect()[0][0] for m in models}


def generated_models(layout: RawLayout) -> list[str]:
    p = staging_plan(layout, ProjectOptions())
    return sorted([m.name for m in p] + [b.name for b in p.bridges])


def counts(built: Built) -> dict[str, int]:
    return {m: next(iter(built.rows(f"select count(*) from {{s}}.{m}")))[0] for m in generated_models(built.layout)}


def test_every_model_holds_the_same_rows_on_duckdb_and_spark(duck: Built, spark_real: dict[str, int]) -> None:
    assert sorted(spark_real) == generated_models(duck.layout)  # every model built on Spark
    duck_counts = counts(duck)
    assert spark_real == duck_counts
    assert all(duck_counts.values()), [m for m, n in duck_counts.items() if not n]  # every model has rows


@pytest.mark.postgres
def test_every_model_holds_the_same_rows_on_duckdb_and_postgres(duck: Built, pg: Built) -> None:
    assert counts(pg) == counts(duck)


TARGETS = ["duck", pytest.param("pg", marks=pytest.mark.postgres)]


@pytest.fixture(params=TARGETS)
def built(request: pytest.FixtureRequest) -> Built:
    value: Built = request.getfixturevalue(request.param)
    return value


def test_dbt_build_succeeds_with_every_model_and_test(built: Built) -> None:
    assert built.build.success, built.build.exception
    statuses = {(r.node.resource_type, str(r.status)) for r in built.build.result}
    assert not any(s in ("error", "fail", "skipped") for _, s in statuses), statuses
    models = {r.node.name for r in built.build.result if r.node.resource_type == "model"}
    p = staging_plan(built.layout, ProjectOptions())
    assert {m.name for m in p} | {b.name for b in p.bridges} | {"user_default_unnest", "user_renamed_unnest"} == models


def test_parse_prints_no_deprecation(duck: Built) -> None:
    names = [e.info.name for e in duck.parse_events]
    assert "MainReportVersion" in names  # the callback did see dbt's events
    bad = [(e.info.name, e.info.msg) for e in duck.parse_events
           if "Deprecat" in e.info.name or e.info.level in ("warn", "error")]
    assert bad == []


def test_source_freshness_and_id_tests_are_configured(duck: Built) -> None:
    manifest = json.loads((duck.project / "target" / "manifest.json").read_text())
    shot = manifest["sources"]["source.shotgrid_analytics.shotgrid.shot"]
    assert shot["loaded_at_field"] == "_sg_loaded_at"
    assert shot["freshness"]["error_after"] == {"count": 24, "period": "hour"}
    tests = {(n["test_metadata"]["name"], n["column_name"]) for n in manifest["nodes"].values()
             if n["resource_type"] == "test" and "source.shotgrid_analytics.shotgrid.shot" in n["depends_on"]["nodes"]}
    assert tests == {("unique", "id"), ("not_null", "id")}


def test_version_joins_shot_through_entity_shot_id(built: Built) -> None:
    assert built.rows("""
        select v.version_id, s.shot_id from {s}.stg_shotgrid__version v
        join {s}.stg_shotgrid__shot s on s.shot_id = v.entity_shot_id""") == {(1, 1), (4, 1)}


def test_shot_joins_asset_through_bridge(built: Built) -> None:
    assert built.rows("""
        select s.shot_id, b.link_position, a.asset_id from {s}.stg_shotgrid__shot s
        join {s}.stg_shotgrid__shot__assets b on b.shot_id = s.shot_id
        join {s}.stg_shotgrid__asset a on a.asset_id = b.linked_id and b.linked_type = 'Asset'""") == {
        (1, 1, 1), (1, 2, 3), (2, 1, 2)}


def test_task_joins_its_polymorphic_entity(built: Built) -> None:
    assert built.rows("""
        select t.task_id, s.shot_id, a.asset_id, q.sequence_id from {s}.stg_shotgrid__task t
        left join {s}.stg_shotgrid__shot s on s.shot_id = t.entity_shot_id
        left join {s}.stg_shotgrid__asset a on a.asset_id = t.entity_asset_id
        left join {s}.stg_shotgrid__sequence q on q.sequence_id = t.entity_sequence_id""") == {
        (1, 2, None, None), (2, None, 3, None), (3, None, None, 1)}


def test_polymorphic_bridge_keeps_types_aligned_with_ids(built: Built) -> None:
    assert built.rows("select note_id, link_position, linked_type, linked_id "
                      "from {s}.stg_shotgrid__note__note_links") == {
        (1, 1, "Shot", 2), (1, 2, "Asset", 1), (1, 3, "Version", 4), (2, 1, None, 9)}


def test_default_unnest_matches_the_dispatched_one(built: Built) -> None:
    assert built.rows("select shot_id, link_position, linked_type, linked_id from {s}.user_default_unnest") == \
        built.rows("select shot_id, link_position, linked_type, linked_id from {s}.stg_shotgrid__shot__assets")


def test_bridge_column_names_are_the_macros_arguments(built: Built) -> None:
    assert built.rows("select shot_id, pos, kind, target from {s}.user_renamed_unnest") == \
        built.rows("select shot_id, link_position, linked_type, linked_id from {s}.stg_shotgrid__shot__assets")


def test_retired_rows_are_filtered(built: Built) -> None:
    assert built.rows("select version_id from {s}.stg_shotgrid__version") == {(1,), (2,), (4,)}


def test_refresh_keeps_the_user_mart(duck: Built, real_schema_path: Path) -> None:
    schema = sources.from_path(real_schema_path).filtered(ignore=["Booking"])
    report = build_project(schema, duck.project, ProjectOptions(adapter="duckdb",
                                                                db_path=duck.project.parent / "warehouse.duckdb"))
    assert (duck.project / "models" / "marts" / "user_default_unnest.sql").read_text() == USER_MART
    assert "models/staging/shotgrid/stg_shotgrid__booking.sql" in report.removed
    assert not (duck.project / "models/staging/shotgrid/stg_shotgrid__booking.yml").exists()


def test_sg_text_with_jinja_parses_as_text(tmp_path: Path) -> None:
    from sg2dbt.core.model import Entity, Field, Schema

    nasty = "{{ exceptions.raise_compiler_error('boom') }} {% if x %} \"q\": 'a'"
    fields = [Field("Shot", "id", "number"), Field("Shot", "code", "text", display_name=nasty, description=nasty),
              Field("Shot", "sg_status_list", "status_list", valid_values=("ip", "{{ x }}"))]
    build_project(Schema.of([Entity.of("Shot", nasty, fields)]), tmp_path,
                  ProjectOptions(db_path=tmp_path / "x.duckdb"))
    result = dbt(tmp_path, "parse", "--no-partial-parse")
    assert result.success, result.exception
    node = result.result.nodes["model.shotgrid_analytics.stg_shotgrid__shot"]
    assert node.columns["code"].description == f"{nasty} (text). {nasty}"
    assert node.config.meta["sg_display_name"] == nasty


def test_an_entity_switched_off_takes_its_models_and_tests_with_it(tmp_path: Path) -> None:
    """``shotgrid__using_<table>: false`` (dbt's source-package convention) disables the entity's source, staging
    model, bridges and their tests, and the tests of other models that point at it; the rest stays."""
    from sg2dbt.core.model import Entity, Field, Schema

    def f(entity: str, name: str, data_type: str = "number", **kw: Any) -> Field:
        return Field(entity=entity, name=name, data_type=data_type, **kw)

    schema = Schema.of([
        Entity.of("Shot", "Shot", [f("Shot", "id"), f("Shot", "assets", "multi_entity", valid_types=("Asset",))]),
        Entity.of("Asset", "Asset", [f("Asset", "id")]),
        Entity.of("Version", "Version", [f("Version", "id"), f("Version", "entity", "entity", valid_types=("Shot",))]),
    ])
    build_project(schema, tmp_path, ProjectOptions(db_path=tmp_path / "x.duckdb"))

    def nodes(*args: str) -> set[str]:
        res = dbt(tmp_path, "ls", "--resource-type", "model", "--resource-type", "source", "--resource-type", "test",
                  "--output", "name", "--quiet", *args)
        assert res.success, res.exception
        return set(res.result)

    every = nodes()
    off = nodes("--vars", "{shotgrid__using_shot: false, shotgrid_asset_identifier: assets_raw}")
    shot = {n for n in every if re.search(r"shot(?!grid)", n)}
    assert {"stg_shotgrid__shot", "stg_shotgrid__shot__assets", "shotgrid.shot",
            "relationships_stg_shotgrid__version_entity_id__shot_id__ref_stg_shotgrid__shot_"} <= shot
    assert off == every - shot
    assert "stg_shotgrid__asset" in off and "stg_shotgrid__version" in off
    compiled = dbt(tmp_path, "compile", "--select", "stg_shotgrid__asset", "--quiet",
                   "--vars", "{shotgrid_asset_identifier: assets_raw, shotgrid_schema: elsewhere}")
    assert compiled.success, compiled.exception
    sql = (tmp_path / "target" / "compiled" / "shotgrid_analytics" / "models" / "staging" / "shotgrid"
           / "stg_shotgrid__asset.sql").read_text()
    assert '"elsewhere"."assets_raw"' in sql


@pytest.mark.postgres
def test_bridge_tables_are_indexed_and_analyzed_on_postgres(pg: Built) -> None:
    """A BI join that selects a few owners uses the bridge's owner index; the planner only knows to once the
    new table has statistics (the project's post-hook analyzes it; without both the view was faster)."""
    table = "stg_shotgrid__shot__assets"
    indexes = " ".join(r[0] for r in pg.rows(
        f"select indexdef from pg_indexes where schemaname = '{{s}}' and tablename = '{table}'"))
    assert "(shot_id)" in indexes and "(linked_id)" in indexes
    assert pg.rows(f"select c.reltuples >= 0 from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                   f"where n.nspname = '{{s}}' and c.relname = '{table}' and c.relkind = 'r'") == {(True,)}
