"""The dialect capabilities and the one upsert, on every database the loader writes to.

Before this module, the row writer and the sync state each picked the dialect's upsert and disagreed for
psycopg2 (delete-then-insert in one, ON CONFLICT in the other); both now call ``upsert_statement``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sg2dbt.core.dialects import DDL_DIALECTS, capabilities, upsert_statement
from sg2dbt.emit.ddl import dialect as ddl_dialect

ENGINES = ["sqlite", "duckdb", "postgresql+psycopg", "postgresql+psycopg2", "mariadb"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    kind = request.param
    if kind == "sqlite":
        eng = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    elif kind == "duckdb":
        eng = sa.create_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    elif kind.startswith("postgresql"):
        pg: sa.Engine = request.getfixturevalue("pg_engine")
        if kind.endswith("psycopg2"):
            pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
        eng = sa.create_engine(pg.url.set(drivername=kind))
    else:
        eng, _ = request.getfixturevalue("mariadb_database")
    yield eng
    eng.dispose()


def _table(name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("code", sa.String(50)), sa.Column("kept", sa.String(50)))


def test_upsert_overwrites_only_the_columns_it_is_given(engine: sa.Engine) -> None:
    table = _table(f"t_{uuid.uuid4().hex[:10]}")
    table.create(engine)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(table), [{"id": 1, "code": "old", "kept": "mine"}])
            stmt = upsert_statement(conn.dialect, table, "id", ["id", "code"])
            assert stmt is not None, f"{conn.dialect.name} has an upsert construct"
            conn.execute(stmt, [{"id": 1, "code": "new"}, {"id": 2, "code": "two"}])
            conn.execute(stmt, [{"id": 2, "code": "two again"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.id)).all()
        assert [tuple(r) for r in rows] == [(1, "new", "mine"), (2, "two again", None)]
    finally:
        table.drop(engine)


def test_single_row_upsert_binds_values(engine: sa.Engine) -> None:
    """The sync state's one-row write: the second write of the same key replaces the first."""
    table = _table(f"s_{uuid.uuid4().hex[:10]}")
    table.create(engine)
    try:
        for code in ("first", "second"):
            values = {"id": 7, "code": code, "kept": code}
            with engine.begin() as conn:
                conn.execute(upsert_statement(conn.dialect, table, "id", values, values=values))
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(sa.select(table)).all()] == [(7, "second", "second")]
    finally:
        table.drop(engine)


def test_unknown_dialect_falls_back_to_the_portable_subset() -> None:
    caps = capabilities("oracle")
    assert (caps.upsert, caps.parallel_writers, caps.advisory_locks) == ("delete_insert", False, False)


@pytest.mark.parametrize("name", DDL_DIALECTS)
def test_every_ddl_dialect_has_capabilities_and_a_dialect(name: str) -> None:
    assert capabilities(name).name == name
    assert ddl_dialect(name).name in (name, "mysql")   # SQLAlchemy's MariaDB dialect reports mariadb or mysql
