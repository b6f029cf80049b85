"""`sg2dbt build` without running dbt builds: file tree, naming rules, determinism, refresh, CLI.

(tests/emit/project/test_build_dbt.py runs the generated project on DuckDB and PostgreSQL.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from sg2dbt.cli import cli
from sg2dbt.core.errors import NamingError, ProjectError
from sg2dbt.core.layout import plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.emit.project import ADAPTERS, MANIFEST, ProjectOptions, build_project
from sg2dbt.emit.project.staging import StagingPlan
from sg2dbt.emit.project.staging import plan as staging_plan
from sg2dbt.schema import sources

STG = "models/staging/shotgrid"


def F(entity: str, name: str, data_type: str = "text", **kw: Any) -> Field:
    return Field(entity=entity, name=name, data_type=data_type, **kw)


def E(name: str, *fields: Field, display: str = "") -> Entity:
    return Entity.of(name, display or name, [F(name, "id", "number"), *fields])


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def columns(p: StagingPlan, entity: str) -> list[str]:
    return [c.name for c in p.models[entity].columns]


@pytest.fixture(scope="module")
def real(real_schema_path: Path) -> Schema:
    return sources.from_path(real_schema_path)


@pytest.fixture(scope="module")
def real_project(real: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real") / "project"
    build_project(real, out)
    return out


# --- the generated tree ----------------------------------------------------------------------------------

def test_real_project_has_one_sql_and_yml_per_model(real: Schema, real_project: Path) -> None:
    p = staging_plan(plan(real), ProjectOptions())
    files = set(tree(real_project))
    for m in p:
        assert {f"{STG}/{m.name}.sql", f"{STG}/{m.name}.yml"} <= files
    for b in p.bridges:
        assert {f"{STG}/bridges/{b.name}.sql", f"{STG}/bridges/{b.name}.yml"} <= files
    assert {"dbt_project.yml", "profiles.yml", "README.md", "macros/sg2dbt_unnest_links.sql",
            "raw/create_raw_tables.sql", f"{STG}/_shotgrid__sources.yml", MANIFEST} <= files
    assert len(p.models) == 77
    assert "stg_shotgrid__shot__assets" in {b.name for b in p.bridges}


def test_every_yaml_file_loads_and_uses_current_syntax(real_project: Path) -> None:
    for path in real_project.rglob("*.yml"):
        text = path.read_text()
        doc = yaml.safe_load(text)
        assert doc, path
        assert "\ntests:" not in text and " tests:" not in text.replace("data_tests:", "")
    src = yaml.safe_load((real_project / STG / "_shotgrid__sources.yml").read_text())["sources"][0]
    assert src["config"]["loaded_at_field"] == "_sg_loaded_at"
    assert "freshness" in src["config"] and "freshness" not in src and "loaded_at_field" not in src
    shot = next(t for t in src["tables"] if t["name"] == "shot")
    ident = next(c for c in shot["columns"] if c["name"] == "id")
    assert ident["data_tests"] == ["unique", "not_null"]
    code = next(c for c in shot["columns"] if c["name"] == "code")
    assert code["description"].startswith("Shot Code")


def test_column_descriptions_carry_the_unit_of_the_value(real_project: Path) -> None:
    # a BI user reading Task.duration must know it counts minutes, and that timestamps are UTC
    src = yaml.safe_load((real_project / STG / "_shotgrid__sources.yml").read_text())["sources"][0]
    task = {c["name"]: c["description"] for t in src["tables"] if t["name"] == "task" for c in t["columns"]}
    stg = yaml.safe_load((real_project / STG / "stg_shotgrid__task.yml").read_text())["models"][0]
    staged = {c["name"]: c["description"] for c in stg["columns"]}
    for descriptions in (task, staged):
        assert descriptions["duration"] == "Duration (duration, minutes)."
        assert descriptions["updated_at"] == "Date Updated (date_time, UTC)."


def test_link_and_status_tests_are_warnings_with_arguments(real_project: Path) -> None:
    doc = yaml.safe_load((real_project / STG / "stg_shotgrid__version.yml").read_text())["models"][0]
    cols = {c["name"]: c for c in doc["columns"]}
    [rel] = cols["project_id"]["data_tests"]
    assert rel == {"relationships": {"arguments": {"to": "ref('stg_shotgrid__project')", "field": "project_id"},
                                     "config": {"severity": "warn"}}}
    [acc] = cols["sg_status_list"]["data_tests"]
    assert acc["accepted_values"]["config"] == {"severity": "warn"}
    assert set(acc["accepted_values"]["arguments"]["values"]) == {"na", "rev", "vwd"}
    assert "data_tests" not in cols["entity_shot_id"]  # polymorphic: no relationships test


def test_every_staging_key_and_bridge_is_tested(real: Schema, real_project: Path) -> None:
    """What dbt-project-evaluator reads as a primary-key test: unique + not_null on one column of every staging
    model, the bridges' key test (owner key and position together) plus not_null and a relationship to the owner."""
    p = staging_plan(plan(real), ProjectOptions())
    for m in p:
        [doc] = yaml.safe_load((real_project / STG / f"{m.name}.yml").read_text())["models"]
        assert doc["columns"][0] == {"name": m.key, "description": doc["columns"][0]["description"],
                                     "data_tests": ["unique", "not_null"]}, m.name
    for b in p.bridges:
        [doc] = yaml.safe_load((real_project / STG / "bridges" / f"{b.name}.yml").read_text())["models"]
        assert doc["data_tests"] == [{"sg2dbt_unique_combination": {
            "arguments": {"combination_of_columns": [b.owner_key, "link_position"]}}}], b.name
        tests = {c["name"]: c.get("data_tests", []) for c in doc["columns"]}
        owner = next(m for m in p if b in m.bridges)
        assert tests[b.owner_key] == ["not_null", {"relationships": {"arguments": {
            "to": f"ref('{owner.name}')", "field": owner.key}}}]
        assert tests["link_position"] == tests["linked_id"] == ["not_null"]
    macros = (real_project / "macros" / "sg2dbt_unique_combination.sql").read_text()
    assert "{% test sg2dbt_unique_combination(model, combination_of_columns) %}" in macros
    evaluator = yaml.safe_load((real_project / "dbt_project.yml").read_text())["vars"]["dbt_project_evaluator"]
    assert ["shotgrid_analytics.test_sg2dbt_unique_combination"] in evaluator["primary_key_test_macros"]


def test_raw_tables_come_from_source_package_vars(real_project: Path) -> None:
    src = yaml.safe_load((real_project / STG / "_shotgrid__sources.yml").read_text())["sources"][0]
    assert src["schema"] == "{{ var('shotgrid_schema', env_var('SG2DBT_RAW_SCHEMA', 'shotgrid_raw')) }}"
    assert "var('shotgrid_database', target.database)" in src["database"] and "'spark'" in src["database"]
    shot = next(t for t in src["tables"] if t["name"] == "shot")
    assert shot["identifier"] == "{{ var('shotgrid_shot_identifier', 'shot') }}"
    switch = "{{ var('shotgrid__using_shot', true) }}"
    assert shot["config"]["enabled"] == switch
    for rel in (f"{STG}/stg_shotgrid__shot.yml", f"{STG}/bridges/stg_shotgrid__shot__assets.yml"):
        assert yaml.safe_load((real_project / rel).read_text())["models"][0]["config"]["enabled"] == switch


@pytest.mark.parametrize("bridges", ["table", "view"])
def test_bridge_materialisation_is_chosen_per_project(tmp_path: Path, bridges: str) -> None:
    build_project(Schema.of([E("Shot", F("Shot", "assets", "multi_entity", valid_types=("Asset",))), E("Asset")]),
                  tmp_path, ProjectOptions(bridges=bridges))
    models = yaml.safe_load((tmp_path / "dbt_project.yml").read_text())["models"]["shotgrid_analytics"]
    assert models["staging"]["+materialized"] == "view"
    assert models["staging"]["shotgrid"]["bridges"]["+materialized"] == bridges
    with pytest.raises(ProjectError, match="bridge materialisation 'ephemeral'"):
        ProjectOptions(bridges="ephemeral")


def test_macros_are_described(real_project: Path) -> None:
    doc = yaml.safe_load((real_project / "macros" / "_sg2dbt__macros.yml").read_text())
    described = {m["name"] for m in doc["macros"] if m.get("description")}
    defined = set()
    for path in (real_project / "macros").glob("*.sql"):
        defined |= set(re.findall(r"{% macro (\w+)\(", path.read_text()))
        defined |= {f"test_{n}" for n in re.findall(r"{% test (\w+)\(", path.read_text())}
    assert defined and defined <= described, defined - described


def test_profiles_have_no_secret_and_a_duckdb_path_relative_to_the_project(real_project: Path) -> None:
    profiles = yaml.safe_load((real_project / "profiles.yml").read_text())["shotgrid_analytics"]
    assert profiles["target"] == "{{ env_var('SG2DBT_TARGET', 'duckdb') }}"
    assert profiles["outputs"]["duckdb"]["path"] == \
        """{{ env_var('SG2DBT_DUCKDB_PATH', env_var('DBT_PROJECT_DIR', '.') ~ '/' ~ "shotgrid_analytics.duckdb") }}"""
    pg = profiles["outputs"]["postgres"]
    assert pg["password"] == "{{ env_var('DBT_ENV_SECRET_PG_PASSWORD', '') }}"
    assert all("env_var(" in str(v) for k, v in pg.items() if k not in ("type", "threads"))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_no_generated_file_holds_a_path_of_the_build_machine(real: Schema, real_schema_path: Path, tmp_path: Path,
                                                             adapter: str) -> None:
    import sys

    out = tmp_path / "deep" / "analytics"
    build_project(real, out, ProjectOptions(adapter=adapter, db_path=tmp_path / "warehouse" / "sg.duckdb"))
    profiles = yaml.safe_load((out / "profiles.yml").read_text())["shotgrid_analytics"]
    assert '"../../warehouse/sg.duckdb"' in profiles["outputs"]["duckdb"]["path"]
    # where it was built, the working directory, the home, the schema's folder, the sg2dbt checkout (templates)
    # and the Python installation (package data)
    machine = {str(tmp_path), str(Path.cwd()), str(Path.home()), str(real_schema_path.resolve().parent),
               str(Path(__file__).resolve().parents[3]), sys.prefix, sys.base_prefix}
    files = tree(out)
    assert len(files) > 300
    for rel, data in files.items():
        text = data.decode()
        assert not any(m in text for m in machine), rel
    # and a default build holds the same bytes wherever it is built
    other = tmp_path / "elsewhere" / "p"
    build_project(real, other, ProjectOptions(adapter=adapter))
    build_project(real, tmp_path / "p", ProjectOptions(adapter=adapter))
    assert tree(other) == tree(tmp_path / "p")


def test_custom_entities_carry_display_names(real: Schema, real_project: Path) -> None:
    assert real["CustomEntity01"].display_name == "Disk Location"
    doc = yaml.safe_load((real_project / STG / "stg_shotgrid__custom_entity01.yml").read_text())["models"][0]
    assert '"Disk Location"' in doc["description"]
    assert doc["config"]["meta"]["sg_display_name"] == "Disk Location"
    assert "| `CustomEntity01` | Disk Location | `stg_shotgrid__custom_entity01` |" in \
        (real_project / "README.md").read_text()


def test_name_by_display(real: Schema) -> None:
    p = staging_plan(plan(real), ProjectOptions(name_by_display=True))
    assert p.models["CustomEntity01"].name == "stg_shotgrid__disk_location"
    assert p.models["CustomEntity01"].key == "disk_location_id"
    assert p.models["ApiUser"].name == "stg_shotgrid__script"
    # links name the target by its stem too
    assert "entity_disk_location_id" not in columns(p, "Version")
    assert "created_by_script_id" in columns(p, "Version")


def test_display_names_shared_by_two_entities_fall_back_to_api_names() -> None:
    schema = Schema.of([E("CustomEntity01", display="Episode"), E("CustomEntity02", display="Episode"),
                        E("CustomEntity03", display="Sequence Plan")])
    p = staging_plan(plan(schema), ProjectOptions(name_by_display=True))
    assert [m.name for m in p] == ["stg_shotgrid__custom_entity01", "stg_shotgrid__custom_entity02",
                                   "stg_shotgrid__sequence_plan"]


# --- naming rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("by_display", [False, True])
def test_names_collide_nowhere_in_the_real_schema(real: Schema, by_display: bool) -> None:
    p = staging_plan(plan(real), ProjectOptions(name_by_display=by_display))
    models = [m.name for m in p] + [b.name for b in p.bridges]
    assert len(models) == len(set(models))
    for m in p:
        names = columns(p, m.entity)
        assert len(names) == len(set(names)), m.entity
        assert all(len(n) <= 63 for n in [*names, m.name])
    assert {"entity_id", "entity_type", "entity_shot_id", "entity_asset_id"} <= set(columns(p, "Version"))
    note = columns(p, "Note")
    assert "note_id" in note and not any(n.endswith("_ids") for n in note)


def test_polymorphic_links_by_valid_types() -> None:
    schema = Schema.of([
        E("Shot"), E("Asset"),
        E("Task",
          F("Task", "entity", "entity", valid_types=("Shot", "Asset", "AppWelcome")),
          F("Task", "anything", "entity"),
          F("Task", "shot", "entity", valid_types=("Shot",)),
          F("Task", "banner", "entity", valid_types=("Banner",))),
    ])
    p = staging_plan(plan(schema), ProjectOptions())
    assert columns(p, "Task") == [
        "task_id", "anything_id", "anything_type",          # no valid types: raw id and type only
        "banner_id",                                          # single type absent from the schema
        "entity_id", "entity_type", "entity_asset_id", "entity_shot_id",  # AppWelcome is not in the schema
        "shot_id", "_sg_loaded_at"]
    tests = {c.name: c.data_tests for c in p.models["Task"].columns}
    assert tests["banner_id"] == ()
    assert tests["shot_id"][0]["relationships"]["arguments"] == {"to": "ref('stg_shotgrid__shot')", "field": "shot_id"}


def test_derived_names_yield_to_raw_columns() -> None:
    schema = Schema.of([E("Shot", F("Shot", "shot_id", "number"),
                          F("Shot", "entity", "entity", valid_types=("Shot", "Asset")),
                          F("Shot", "entity_shot_id", "text")),
                        E("Asset")])
    p = staging_plan(plan(schema), ProjectOptions())
    cols = columns(p, "Shot")
    assert p.models["Shot"].key == "shot__id"
    assert {"shot__id", "shot_id", "entity_shot__id", "entity_shot_id", "entity_asset_id"} <= set(cols)
    sql = (p.models["Shot"].columns[0]).sql
    assert sql == "cast(id as {{ t.bigint }}) as shot__id"


def test_unresolvable_collision_is_one_clear_error() -> None:
    schema = Schema.of([E("Shot", F("Shot", "shot_id", "number"), F("Shot", "shot__id", "number"))])
    with pytest.raises(NamingError, match=r"Shot.*shot_id"):
        staging_plan(plan(schema), ProjectOptions())


def test_long_names_are_shortened_within_63_characters() -> None:
    e = "CustomNonProjectEntity15"
    long = "sg_" + "very_long_field_name_" * 4
    schema = Schema.of([E(e, *(F(e, f"{long}{i}", "multi_entity", valid_types=(e,)) for i in (1, 2)))])
    p = staging_plan(plan(schema), ProjectOptions(source_name="shotgrid_studio"))
    a, b = (x.name for x in p.bridges)
    assert len(a) == len(b) == 63 and a != b
    assert a[:-9] == b[:-9] == "stg_shotgrid_studio__custom_non_project_entity15__sg_v"


def test_reserved_words_are_quoted_in_sql_and_yaml(tmp_path: Path) -> None:
    schema = Schema.of([E("Shot", F("Shot", "user", "text"), F("Shot", "order", "number"))])
    build_project(schema, tmp_path)
    sql = (tmp_path / STG / "stg_shotgrid__shot.sql").read_text()
    assert "cast({{ adapter.quote('user') }} as {{ t.text }}) as {{ adapter.quote('user') }}" in sql
    assert "cast({{ adapter.quote('order') }} as {{ t.bigint }}) as {{ adapter.quote('order') }}" in sql
    cols = yaml.safe_load((tmp_path / STG / "stg_shotgrid__shot.yml").read_text())["models"][0]["columns"]
    assert {c["name"]: c.get("quote") for c in cols} == {"shot_id": None, "user": True, "order": True,
                                                          "_sg_loaded_at": None}


def test_sg_text_cannot_become_code(tmp_path: Path) -> None:
    nasty = "{{ exceptions.raise_compiler_error('boom') }} \"q\": 'a'\n{% if %} #}"
    schema = Schema.of([E("Shot", F("Shot", "code", "text", display_name=nasty, description=nasty),
                          display=nasty)])
    build_project(schema, tmp_path)
    sql = (tmp_path / STG / "stg_shotgrid__shot.sql").read_text()
    assert "{{ source('shotgrid', 'shot') }}" in sql
    tags = set(re.findall(r"\{[{%#].*?[}%#]\}", sql))  # all the Jinja dbt will run: only sg2dbt's own
    assert all(re.fullmatch(r"\{\{ (t\.\w+|source\('shotgrid', 'shot'\)) \}\}", tag)
               for tag in tags - {"{% set t = sg2dbt_types() %}"}), tags
    doc = yaml.safe_load((tmp_path / STG / "stg_shotgrid__shot.yml").read_text())["models"][0]
    code = next(c for c in doc["columns"] if c["name"] == "code")
    assert code["description"] == "{% raw %}" + f"{nasty} (text). {nasty.strip()}" + "{% endraw %}"


# --- determinism and refresh -----------------------------------------------------------------------------

def test_two_builds_are_byte_identical(real: Schema, real_project: Path, tmp_path: Path) -> None:
    build_project(real, tmp_path / "again")
    assert tree(tmp_path / "again") == tree(real_project)
    report = build_project(real, tmp_path / "again")
    assert report.written == [] and report.removed == []
    assert tree(tmp_path / "again") == tree(real_project)


def test_refresh_rewrites_only_generated_files(real: Schema, tmp_path: Path) -> None:
    out = tmp_path / "p"
    build_project(real, out)
    mart = out / "models" / "marts" / "shots_per_sequence.sql"
    mart.parent.mkdir(parents=True)
    mart.write_text("select 1 as user_file\n")
    edited = out / STG / "stg_shotgrid__asset.sql"
    edited.write_text(edited.read_text() + "-- my change\n")
    report = build_project(real.filtered(ignore=["Shot", "Asset"]), out)
    assert mart.read_text() == "select 1 as user_file\n"
    assert edited.read_text().endswith("-- my change\n")
    assert f"{STG}/stg_shotgrid__asset.sql" in report.kept_edited
    assert f"{STG}/stg_shotgrid__shot.sql" in report.removed
    assert not (out / STG / "stg_shotgrid__shot.yml").exists()
    assert not (out / STG / "bridges" / "stg_shotgrid__shot__assets.sql").exists()
    listed = json.loads((out / MANIFEST).read_text())["files"]
    assert "models/marts/shots_per_sequence.sql" not in listed
    assert f"{STG}/stg_shotgrid__asset.sql" in listed  # still reported as edited on every refresh
    # entities coming back regenerate their files; the edited one is still the user's and is kept
    report = build_project(real, out)
    assert (out / STG / "stg_shotgrid__shot.sql").is_file()
    assert edited.read_text().endswith("-- my change\n")
    assert report.kept_edited == [f"{STG}/stg_shotgrid__asset.sql"]


def test_files_that_are_not_ours_stop_the_build_before_anything_is_written(tmp_path: Path) -> None:
    schema = Schema.of([E("Shot")])
    (tmp_path / "dbt_project.yml").write_text("name: mine\n")
    with pytest.raises(ProjectError, match=r"dbt_project\.yml"):
        build_project(schema, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dbt_project.yml"]


# --- command line ----------------------------------------------------------------------------------------

def test_cli_build_and_init_db(real_schema_path: Path, tmp_path: Path) -> None:
    import sqlalchemy as sa

    runner = CliRunner()
    res = runner.invoke(cli, ["build", "--schema", str(real_schema_path), "--out", str(tmp_path / "p"),
                              "--adapter", "postgres", "--only", "Shot", "--only", "Asset", "--source-name", "sg",
                              "--raw-schema", "sgraw"])
    assert res.exit_code == 0, res.output
    files = set(tree(tmp_path / "p"))
    assert {"models/staging/sg/stg_sg__shot.sql", "models/staging/sg/bridges/stg_sg__shot__assets.sql"} <= files
    assert "stg_sg__version.sql" not in " ".join(files)
    ddl = (tmp_path / "p" / "raw" / "create_raw_tables.sql").read_text()
    assert "CREATE SCHEMA IF NOT EXISTS sgraw" in ddl and "sgraw.shot" in ddl and "JSONB" in ddl
    assert "'SG2DBT_TARGET', 'postgres'" in (tmp_path / "p" / "profiles.yml").read_text()

    db = tmp_path / "raw.duckdb"
    res = runner.invoke(cli, ["init-db", "--schema", str(real_schema_path), "--db", f"duckdb:///{db}",
                              "--raw-schema", "sgraw", "--only", "Shot"])
    assert res.exit_code == 0, res.output
    engine = sa.create_engine(f"duckdb:///{db}")
    try:
        assert sa.inspect(engine).get_table_names(schema="sgraw") == ["shot"]
    finally:
        engine.dispose()


def test_cli_names_models_by_display_name(real_schema_path: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["build", "--schema", str(real_schema_path), "--out", str(tmp_path),
                                   "--only", "CustomEntity01", "--name-by-display"])
    assert res.exit_code == 0, res.output
    sql = (tmp_path / STG / "stg_shotgrid__disk_location.sql").read_text()
    assert "{{ source('shotgrid', 'custom_entity01') }}" in sql and "as disk_location_id" in sql


def test_cli_rejects_a_bad_source_name(real_schema_path: Path, tmp_path: Path) -> None:
    from sg2dbt.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["build", "--schema", str(real_schema_path), "--out", str(tmp_path / "p"), "--source-name", "Bad-Name"])
    assert exc.value.code == 2
    assert not (tmp_path / "p").exists()


def test_an_unwritable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("a file where a folder must go\n")
    with pytest.raises(ProjectError, match="cannot write the project"):
        build_project(Schema.of([E("Shot")]), tmp_path)
