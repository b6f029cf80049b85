"""Generated SQL quotes every identifier that needs it and never lets SG text act as SQL or as dbt Jinja.

One hostile schema (the corpus's name cases merged, with every description and display name carrying an
injection attempt) is turned into DDL and a dbt project. A table ``x`` with one row sits in every database
beforehand: the injections all try to drop it. After the DDL (SQLite, DuckDB, PostgreSQL) and after a real
``dbt build`` on DuckDB, exactly the expected tables exist, ``x`` still holds its row, and the polymorphic
link to an entity named ``{{ env_var('SG_API_KEY') }}`` resolves by comparing the name byte for byte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout, Role, plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.ddl import DIALECTS, create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.schema import sources
from tests.support.sqlcheck import code_only, foreign_jinja, layout_tables, run_script, tables

CORPUS = Path(__file__).resolve().parent / "corpus"
SECRET = "sk-SECRET-CANARY-sqlsafety"
JINJA_ENTITY = "{{ env_var('SG_API_KEY') }}"
INJECTION = ("*/ '); drop table x; -- \"; drop table x; -- {{ env_var('SG_API_KEY') }} "
             "{% do run_query('drop table x') %}")


def _marker(kind: str, n: int) -> str:
    return f"{kind}MARK{n:03d}"


def hostile_doc() -> dict[str, Any]:
    """sql_keywords + hostile_names + hostile_link_targets, with marked injection text in every description."""
    doc: dict[str, Any] = {}
    for case in ("sql_keywords", "hostile_names", "hostile_link_targets"):
        for entity, body in json.loads((CORPUS / f"{case}.json").read_text(encoding="utf-8")).items():
            target = doc.setdefault(entity, {"name": body["name"], "fields": {}})
            target["fields"].update(body["fields"])
    doc["Shot"]["fields"]["sg_status_list"] = {
        "data_type": {"value": "status_list"},
        "properties": {"valid_values": {"value": ["ip", "it's", "x') or ('1' = '1", JINJA_ENTITY]}}}
    n = 0
    for body in doc.values():
        for spec in body["fields"].values():
            n += 1
            spec["description"] = {"value": f"{_marker('DESC', n)} {INJECTION}\n{INJECTION}"}
            spec["name"] = {"value": f"{_marker('DISP', n)} {INJECTION}\nnext line; drop table x; --"}
    return doc


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile_schema.json"
    path.write_text(json.dumps(hostile_doc(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def schema(schema_file: Path) -> Schema:
    return sources.from_json_file(schema_file)


@pytest.fixture(scope="module")
def layout(schema: Schema) -> RawLayout:
    return plan(schema)


def test_schema_is_as_hostile_as_intended(schema: Schema, layout: RawLayout) -> None:
    assert JINJA_ENTITY in schema.entities
    reserved = {c.name for t in layout for c in t.columns if c.quoted}
    assert not {"user_id", "user_type"} & reserved  # derived link columns are not reserved ...
    assert {"select", "from", "where", "table", "order", "group_ids", "limit"} & reserved >= {"select", "from"}
    assert {"order", "group", "user"} <= {t.name for t in layout}


def _check_ddl_on(engine: sa.Engine, layout: RawLayout, dialect: str, schema_name: str | None) -> None:
    qualified = f'"{schema_name}".x' if schema_name else "x"
    with engine.begin() as conn:
        if schema_name and dialect != "postgresql":
            conn.exec_driver_sql(f'create schema if not exists "{schema_name}"')
        conn.exec_driver_sql(f"create table {qualified} (v integer)")
        conn.exec_driver_sql(f"insert into {qualified} values (42)")
    run_script(engine, create_statements(build_metadata(layout, schema_name), dialect))
    assert tables(engine, schema_name) == {**layout_tables(layout), "x": {"v"}}
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"select v from {qualified}").scalar_one() == 42


def test_ddl_runs_on_sqlite_and_creates_exactly_the_tables(layout: RawLayout, tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'raw.db'}")
    _check_ddl_on(engine, layout, "sqlite", None)
    engine.dispose()


def test_ddl_runs_on_duckdb_and_creates_exactly_the_tables(layout: RawLayout, tmp_path: Path) -> None:
    engine = sa.create_engine(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    _check_ddl_on(engine, layout, "duckdb", "shotgrid_raw")
    engine.dispose()


@pytest.mark.postgres
def test_ddl_runs_on_postgresql_and_creates_exactly_the_tables(layout: RawLayout, pg_engine: sa.Engine,
                                                               pg_schema: str) -> None:
    _check_ddl_on(pg_engine, layout, "postgresql", pg_schema)


def test_ddl_runs_on_mariadb_and_creates_exactly_the_tables(layout: RawLayout,
                                                            mariadb_database: tuple[sa.Engine, str]) -> None:
    """MariaDB is not a warehouse target (the DDL must only compile there), but it runs where one is reachable."""
    engine, db = mariadb_database
    with engine.begin() as conn:
        conn.exec_driver_sql(f"create table {db}.x (v integer)")
        conn.exec_driver_sql(f"insert into {db}.x values (42)")
    with engine.begin() as conn:  # one statement per execute: MySQL drivers refuse scripts
        for stmt in create_statements(build_metadata(layout, db), "mariadb").split(";\n\n"):
            if stmt.strip():
                conn.exec_driver_sql(stmt)
    assert tables(engine, db) == {**layout_tables(layout), "x": {"v"}}
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"select v from {db}.x").scalar_one() == 42


@pytest.mark.parametrize("dialect", DIALECTS)
def test_ddl_quotes_reserved_names_and_holds_no_sg_text(layout: RawLayout, dialect: str) -> None:
    from sg2dbt.core import naming
    from sg2dbt.emit.ddl import dialect as load_dialect

    preparer = load_dialect(dialect).identifier_preparer
    ddl = create_statements(build_metadata(layout, "raw"), dialect)
    assert "MARK" not in ddl and "drop table" not in ddl.lower()
    quoted = 0
    for t in layout:
        for name in (t.name, *(c.name for c in t.columns)):
            # a name reserved on ANY supported database is quoted on all (one DDL file serves every target)
            reserved = naming.is_reserved(name) or name.lower() in preparer.reserved_words
            shown = preparer.quote_identifier(name) if reserved else preparer.quote(name)
            assert re.search(rf"(?<![\w\"`]){re.escape(shown)}(?![\w\"`])", ddl), (dialect, name)
            quoted += reserved
    assert quoted >= 10  # select, from, where, table, order, group, user ... on every dialect


# --- the dbt project ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project_mod = pytest.importorskip("sg2dbt.emit.project", reason="sg2dbt build has not landed")
    out = tmp_path_factory.mktemp("dbt_hostile")
    project_mod.build_project(schema, out, project_mod.ProjectOptions(db_path=out / "warehouse.duckdb"))
    return out


def test_model_sql_holds_no_description_and_display_names_only_in_one_line_comments(project: Path) -> None:
    for macro in project.glob("macros/**/*.sql"):  # static files: no SG text at all
        assert "MARK" not in macro.read_text(encoding="utf-8")
    sql_files = sorted(project.glob("models/**/*.sql"))
    assert len(sql_files) >= 8
    for f in sql_files:
        text = f.read_text(encoding="utf-8")
        assert "DESCMARK" not in text, f
        code = code_only(text)
        assert "DISPMARK" not in code and "drop table" not in code.lower(), (f.name, code)
        assert foreign_jinja(text) == [], f.name  # dbt renders the whole file: no SG text may be Jinja


def test_descriptions_reach_yaml_as_text(project: Path) -> None:
    import yaml

    texts = "\n".join(f.read_text(encoding="utf-8") for f in project.glob("models/**/*.yml"))
    assert "DESCMARK" in texts and "DISPMARK" in texts
    for f in project.glob("models/**/*.yml"):
        assert isinstance(yaml.safe_load(f.read_text(encoding="utf-8")), dict), f


@pytest.fixture(scope="module")
def dbt_built(project: Path, layout: RawLayout) -> Iterator[tuple[Any, Path]]:
    """Raw tables with one linked pair of rows, a table ``x``, then ONE real `dbt build` on DuckDB."""
    from dbt.cli.main import dbtRunner

    from sg2dbt.emit.project import create_raw_tables

    db = project / "warehouse.duckdb"
    engine = sa.create_engine(f"duckdb:///{db}")
    md = create_raw_tables(layout, engine, "shotgrid_raw")
    shot, evil = layout["Shot"], layout[JINJA_ENTITY]
    link = shot.fields["target"]
    with engine.begin() as conn:
        conn.exec_driver_sql("create table main.x (v integer)")
        conn.exec_driver_sql("insert into main.x values (42)")
        conn.execute(md.tables[f"shotgrid_raw.{evil.name}"].insert(), [{"id": 5, "_sg_retired": False}])
        conn.execute(md.tables[f"shotgrid_raw.{shot.name}"].insert(), [
            {"id": 1, "_sg_retired": False, link.column(Role.LINK_ID).attr: 5,
             link.column(Role.LINK_TYPE).attr: JINJA_ENTITY, "sg_status_list": "it's"},
            {"id": 2, "_sg_retired": False, link.column(Role.LINK_ID).attr: 6,
             link.column(Role.LINK_TYPE).attr: "Project", "sg_status_list": "bogus"}])
    engine.dispose()
    # DBT_PROJECT_DIR: profiles.yml names the DuckDB file relative to the project (dbt-duckdb reads it from there)
    with mock.patch.dict("os.environ", {"SG_API_KEY": SECRET, "DBT_PROJECT_DIR": str(project)}):
        result = dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir", str(project)])
    yield result, db


@pytest.mark.slow
def test_dbt_build_succeeds_and_leaves_table_x_alone(dbt_built: tuple[Any, Path], layout: RawLayout) -> None:
    import duckdb

    result, db = dbt_built
    assert result.success, result.exception
    con = duckdb.connect(str(db))  # dbt-duckdb keeps its own (read-write) one open
    try:
        assert con.execute("select v from main.x").fetchall() == [(42,)]
        raw = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                         "where table_schema = 'shotgrid_raw'").fetchall()}
        assert raw == set(layout_tables(layout))
    finally:
        con.close()


def test_accepted_values_with_quotes_and_injection_flags_exactly_the_bad_row(dbt_built: tuple[Any, Path]) -> None:
    """dbt's accepted_values pastes values between quotes: sg2dbt must hand it escaped literals, or "it's"
    breaks the test's SQL and "x') or ('1' = '1" makes every value accepted."""
    result, _ = dbt_built
    [test] = [r for r in result.result.results
              if r.node.resource_type == "test" and r.node.name.startswith("accepted_values_stg_shotgrid__shot_sg")]
    assert (test.status, test.failures) == ("warn", 1)


def test_polymorphic_link_to_a_jinja_named_entity_compares_the_name_byte_for_byte(
        dbt_built: tuple[Any, Path], layout: RawLayout) -> None:
    import duckdb

    from sg2dbt.core import naming

    result, db = dbt_built
    assert result.success, result.exception
    column = naming.NamingConvention().typed_link_id(naming.normalize("target"), layout[JINJA_ENTITY].name)
    con = duckdb.connect(str(db))  # dbt-duckdb keeps its own (read-write) one open
    try:
        (schema_name,) = con.execute("select table_schema from information_schema.tables "
                                     "where table_name = 'stg_shotgrid__shot'").fetchone()
        rows = con.execute(f'select shot_id, "{column}" from "{schema_name}".stg_shotgrid__shot order by 1').fetchall()
    finally:
        con.close()
    assert rows == [(1, 5), (2, None)]


def test_dbt_never_rendered_sg_text_as_jinja(dbt_built: tuple[Any, Path], project: Path) -> None:
    """An SG name holding env_var('SG_API_KEY') must not pull the key into compiled SQL or logs."""
    result, _ = dbt_built
    assert result.success, result.exception
    for f in [*project.glob("target/**/*"), *project.glob("logs/**/*")]:
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
