"""The raw tables' DDL: compiled by SQLAlchemy for every dialect, and run on real databases."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.layout import RawLayout, plan
from sg2dbt.emit.ddl import DIALECTS, create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.schema import sources

# Anything that makes the database invent ids or enforce links (ids come from SG, links dangle). Keywords are
# upper case in compiled DDL, identifiers lower case: a table named "sequence" is fine.
FORBIDDEN = re.compile(r"\b(SERIAL|BIGSERIAL|IDENTITY|SEQUENCE|NEXTVAL|AUTO_?INCREMENT|REFERENCES|FOREIGN)\b")


@pytest.fixture(scope="module")
def real_layout(real_schema_path: Path) -> RawLayout:
    return plan(sources.from_path(real_schema_path))


@pytest.fixture(scope="module")
def compiled(real_layout: RawLayout) -> dict[str, str]:
    return {d: create_statements(build_metadata(real_layout), d) for d in DIALECTS}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_ddl_compiles_one_table_per_entity(compiled: dict[str, str], dialect: str) -> None:
    ddl = compiled[dialect]
    assert ddl.count("CREATE TABLE") == 77
    assert not FORBIDDEN.search(ddl), FORBIDDEN.search(ddl)
    shot = next(s for s in ddl.split(";") if re.search(r"CREATE TABLE (IF NOT EXISTS )?\W?shot\W? \(", s))
    assert re.search(r"\bid BIGINT NOT NULL", shot)
    assert "PRIMARY KEY (id)" in shot
    assert re.search(r"\bproject_id BIGINT", shot)
    assert "assets_ids" in shot and "_sg_loaded_at" in shot


def test_ddl_types_per_dialect(compiled: dict[str, str]) -> None:
    assert "tag_list JSONB" in compiled["postgresql"]
    assert "created_at TIMESTAMP WITH TIME ZONE" in compiled["postgresql"]
    assert "tag_list JSON" in compiled["duckdb"]
    assert "tag_list JSON" in compiled["mysql"]


def test_ddl_with_a_database_schema(real_layout: RawLayout) -> None:
    ddl = create_statements(build_metadata(real_layout, "sg_raw"), "postgresql")
    assert ddl.startswith("CREATE SCHEMA IF NOT EXISTS sg_raw;")
    assert "CREATE TABLE IF NOT EXISTS sg_raw.shot (" in ddl
    assert "CREATE SCHEMA" not in create_statements(build_metadata(real_layout, "main"), "sqlite")


def test_unknown_dialect_is_one_clear_error(real_layout: RawLayout) -> None:
    with pytest.raises(Sg2dbtError, match="unknown dialect 'oracle'; choose one of postgresql"):
        create_statements(build_metadata(real_layout), "oracle")


def test_ddl_runs_on_sqlite(compiled: dict[str, str], tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "raw.db")
    con.executescript(compiled["sqlite"])
    con.executescript(compiled["sqlite"])   # IF NOT EXISTS: a second run changes nothing
    tables = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    assert "shot" in tables and len(tables) == 77
    con.execute("insert into shot (id, project_id, project_type) values (9007199254740993, 1, 'Project')")
    assert con.execute("select id from shot").fetchone() == (9007199254740993,)
    with pytest.raises(sqlite3.IntegrityError, match=r"NOT NULL constraint failed: shot\.id"):
        con.execute("insert into shot (code) values ('no id')")   # the database never invents an id
    con.close()


def test_ddl_runs_on_duckdb(compiled: dict[str, str], duckdb_path: Path) -> None:
    con = duckdb.connect(str(duckdb_path))
    con.execute(compiled["duckdb"])
    assert con.execute("select count(*) from duckdb_tables()").fetchone() == (77,)
    assert con.execute("select count(*) from duckdb_sequences()").fetchone() == (0,)
    assert con.execute("select count(*) from duckdb_constraints() where constraint_type = 'FOREIGN KEY'"
                       ).fetchone() == (0,)
    assert con.execute("select data_type from duckdb_columns() where table_name = 'shot' and column_name = 'id'"
                       ).fetchone() == ("BIGINT",)
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        con.execute("insert into shot (code) values ('no id')")
    con.close()


@pytest.mark.postgres
def test_ddl_runs_on_postgres(real_layout: RawLayout, pg_engine: sa.Engine, pg_schema: str) -> None:
    ddl = create_statements(build_metadata(real_layout, pg_schema), "postgresql")
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(ddl)
    with pg_engine.connect() as conn:
        q = conn.execute
        assert q(sa.text("select count(*) from information_schema.tables where table_schema = :s"),
                 {"s": pg_schema}).scalar() == 77
        assert q(sa.text("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                         "where n.nspname = :s and c.relkind = 'S'"), {"s": pg_schema}).scalar() == 0
        assert q(sa.text("select count(*) from pg_attribute a join pg_class c on c.oid = a.attrelid "
                         "join pg_namespace n on n.oid = c.relnamespace where n.nspname = :s "
                         "and (a.attidentity <> '' or a.atthasdef)"), {"s": pg_schema}).scalar() == 0
        assert q(sa.text("select count(*) from pg_constraint c join pg_namespace n on n.oid = c.connamespace "
                         "where n.nspname = :s and c.contype = 'f'"), {"s": pg_schema}).scalar() == 0
        assert q(sa.text("select count(*) from pg_constraint c join pg_namespace n on n.oid = c.connamespace "
                         "where n.nspname = :s and c.contype = 'p'"), {"s": pg_schema}).scalar() == 77


def test_ddl_runs_on_mariadb(real_layout: RawLayout, mariadb_database: tuple[sa.Engine, str]) -> None:
    engine, name = mariadb_database
    ddl = create_statements(build_metadata(real_layout), "mariadb" if engine.dialect.is_mariadb else "mysql")
    with engine.begin() as conn:
        for statement in filter(str.strip, ddl.split(";\n")):
            conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        tables = conn.execute(sa.text("select count(*) from information_schema.tables where table_schema = :s"),
                              {"s": name}).scalar()
        auto = conn.execute(sa.text("select count(*) from information_schema.columns where table_schema = :s "
                                    "and extra like '%auto_increment%'"), {"s": name}).scalar()
    assert (tables, auto) == (77, 0)
