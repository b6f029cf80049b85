"""The type map: every logical type has one complete record, and every part of it works where it is used.

The records are checked against the databases and drivers that consume them (DuckDB, SQLite, psycopg's
type registry, SQLAlchemy's dialect compilers, PostgreSQL when reachable), not against a copy of the map.
"""

from __future__ import annotations

import dataclasses

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from sg2dbt.core import typemap
from sg2dbt.core.model import Field
from sg2dbt.core.typemap import CAST_ADAPTERS, STORAGE, SUMMARY_MAP, TYPE_MAP, Logical, Shape, staging_casts
from sg2dbt.emit.ddl import DIALECTS, dialect
from sg2dbt.emit.ormsupport import SgDate
from sg2dbt.emit.project.options import ADAPTERS


def test_every_logical_type_has_one_complete_record() -> None:
    assert set(STORAGE) == set(Logical)
    for logical, record in STORAGE.items():
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if f.name == "staging_cast" and value is None:
                continue   # passes through uncast, tested below
            assert value, f"{logical.value}: {f.name} is empty"


def test_the_converter_is_the_value_rule_of_its_type() -> None:
    assert STORAGE[Logical.BIGINT].convert("12") == 12          # numeric strings coerce losslessly
    assert STORAGE[Logical.BOOLEAN].convert("true") is True
    with pytest.raises((TypeError, ValueError)):
        STORAGE[Logical.BIGINT].convert("12.5")                 # a lossy one is refused


def test_every_sg_type_resolves_to_a_recorded_logical_type() -> None:
    for name, sg in TYPE_MAP.items():
        assert (sg.logical is None) == (sg.shape is not Shape.VALUE), name
        assert sg.logical is None or sg.logical in STORAGE, name
    assert set(SUMMARY_MAP.values()) <= set(STORAGE)


def test_unknown_data_type_is_text_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    sg = typemap.resolve(Field(entity="Shot", name="sg_new", data_type="hologram"))
    assert sg.logical is Logical.TEXT
    assert "Shot.sg_new" in caplog.text and "hologram" in caplog.text


@pytest.mark.parametrize("name", DIALECTS)
def test_sa_type_compiles_on_every_dialect_and_matches_the_standalone_module(name: str) -> None:
    d = dialect(name)
    for logical, record in STORAGE.items():
        orm_type = record.sa_type()
        generated = eval(record.sa_code, {"sa": sa, "JSONB": JSONB, "SgDate": SgDate})   # what sgmodel.py evaluates
        assert orm_type.compile(dialect=d) == generated.compile(dialect=d), (name, logical.value)


@pytest.mark.parametrize("adapter", ["default", *CAST_ADAPTERS, *ADAPTERS])
def test_staging_cast_on_every_adapter(adapter: str) -> None:
    casts = staging_casts(adapter)
    assert set(casts) == {lg.value for lg in Logical} - {Logical.JSON.value}, adapter   # JSON passes uncast
    assert all(casts.values()), adapter
    for logical, record in STORAGE.items():
        if record.staging_cast is not None:
            assert set(record.staging_cast) == {"default", *CAST_ADAPTERS}, logical.value   # each one spelled out


def test_staging_casts_are_types_duckdb_reads() -> None:
    con = duckdb.connect()
    for cast in {*staging_casts("default").values(), *staging_casts("duckdb").values()}:
        con.execute(f"select cast(null as {cast})").fetchall()


@pytest.mark.postgres
def test_staging_casts_are_types_postgresql_reads(pg_engine: sa.Engine) -> None:
    with pg_engine.connect() as conn:
        for cast in {*staging_casts("default").values(), *staging_casts("postgres").values()}:
            conn.execute(sa.text(f"select cast(null as {cast})"))


def test_parquet_and_spark_types_agree() -> None:
    pa = pytest.importorskip("pyarrow")
    for logical, record in STORAGE.items():
        arrow = record.arrow(pa)
        assert isinstance(arrow, pa.DataType), logical.value
        if record.staging_cast is not None:   # a raw Spark column is what its staging model casts it to
            assert record.spark_ddl == record.staging_cast["spark"], logical.value


def test_bulk_types_are_known_to_their_drivers() -> None:
    from psycopg import adapters

    con = duckdb.connect()
    for logical, record in STORAGE.items():
        assert adapters.types.get(record.pg_copy) is not None, (logical.value, record.pg_copy)
        con.execute(f"select cast(null as {record.duckdb_read})").fetchall()
