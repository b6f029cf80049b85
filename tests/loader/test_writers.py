"""The row writers (loader/writers.py) on every database: the writer each dialect gets, and what insert,
upsert, delete and the counts do to the rows, inside the caller's transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sg2dbt.core.convert import RowConverter
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.typemap import Logical
from sg2dbt.loader.run import prepare
from sg2dbt.loader.writers import DuckDBWriter, PostgresWriter, Writer, json_as_text, writer_for
from sg2dbt.schema import sources
from tests.conftest import REPO
from tests.support.damaged import damaged_values
from tests.support.sgsite import record

SCHEMA = sources.from_path(REPO / "examples" / "studio" / "schema.json").filtered(only=["Shot"])
LAYOUT = plan(SCHEMA)
NOW = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
EXPECTED_WRITER = {"sqlite": Writer, "duckdb": DuckDBWriter, "postgresql+psycopg": PostgresWriter,
                   "postgresql+psycopg2": Writer, "mariadb": Writer}


@pytest.fixture(params=list(EXPECTED_WRITER))
def target(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, sa.Engine, str | None]]:
    kind = request.param
    schema: str | None = f"w_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        engine, schema = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}"), None
    elif kind == "duckdb":
        engine = sa.create_engine(f"duckdb:///{tmp_path / 'w.duckdb'}")
    elif kind.startswith("postgresql"):
        if kind.endswith("psycopg2"):
            pytest.importorskip("psycopg2", reason="psycopg2 is not installed")
        engine = sa.create_engine(request.getfixturevalue("pg_engine").url.set(drivername=kind))
    else:
        engine, schema = request.getfixturevalue("mariadb_database")[0], None
    try:
        yield kind, engine, schema
    finally:
        if schema and kind.startswith("postgresql"):
            with engine.begin() as conn:
                conn.exec_driver_sql(f'drop schema if exists "{schema}" cascade')
        engine.dispose()


def _rows(conv: RowConverter, ids: range, *, variant: int = 0, retired: bool = False) -> list[tuple]:
    return [conv.row(record(SCHEMA["Shot"], i, SCHEMA, variant=variant), retired, NOW) for i in ids]


def _shot_table(engine: sa.Engine, schema: str | None) -> tuple[sa.Table, RowConverter]:
    """The raw Shot table, created as the loader creates it, and the converter for this dialect's writer."""
    metadata, _ = prepare(engine, LAYOUT, schema)
    table = next(t for t in metadata.tables.values() if t.info.get("sg_entity") == "Shot")
    with engine.connect() as conn:
        return table, RowConverter(LAYOUT["Shot"], json_as_text=json_as_text(conn.dialect))


def _codes(engine: sa.Engine, table: sa.Table) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(table.c.id, table.c.code)).all())


def test_each_dialect_gets_its_writer_and_the_rows_land(target: tuple[str, sa.Engine, str | None]) -> None:
    kind, engine, schema = target
    table, conv = _shot_table(engine, schema)
    first, later = _rows(conv, range(1, 11)), _rows(conv, range(5, 16), variant=3)
    with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        assert type(writer) is EXPECTED_WRITER[kind]
        writer.insert(first)
    with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        writer.upsert(later)                      # 5..10 replaced, 11..15 new
        writer.delete_ids([1, 2])
    codes = _codes(engine, table)
    code_col = [c.name for c in conv.columns].index("code")
    assert sorted(codes) == list(range(3, 16))
    assert codes[4] == first[3][code_col] and codes[9] == later[4][code_col]
    with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        writer.upsert(_rows(conv, range(3, 5), retired=True))
        assert writer.flagged_ids() == {3, 4}
        assert writer.counts() == (11, 2)


def test_a_failed_transaction_leaves_no_row(target: tuple[str, sa.Engine, str | None]) -> None:
    """Rows and sync state commit together: a writer used in a transaction that fails leaves nothing."""
    _kind, engine, schema = target
    table, conv = _shot_table(engine, schema)
    with pytest.raises(RuntimeError), engine.begin() as conn, \
            contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        writer.insert(_rows(conv, range(1, 4)))
        raise RuntimeError("the entity's load failed after its rows were written")
    assert _codes(engine, table) == {}


@pytest.mark.parametrize(("delete_does", "error"), [("perform pg_sleep(0.5)", None),
                                                    ("raise exception 'no emptying today'", "no emptying today")])
def test_postgres_a_full_reload_holds_its_first_pages_until_the_table_is_emptied(
        pg_engine: sa.Engine, pg_schema: str, monkeypatch: pytest.MonkeyPatch, delete_does: str,
        error: str | None) -> None:
    """The DELETE of a full reload runs while the loader converts its first pages: the pages held meanwhile
    (here more than the bound, so the COPY also waits for the DELETE) all land, or the DELETE's error stops
    the load and its transaction leaves the table as it was."""
    import psycopg

    from sg2dbt.loader import writers

    monkeypatch.setattr(writers, "_HELD_ROWS", 15)
    table, conv = _shot_table(pg_engine, pg_schema)
    old, pages = _rows(conv, range(1, 30)), [_rows(conv, range(i, i + 10), variant=1) for i in (100, 110, 120)]
    with pg_engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        writer.insert(old)
    q_table = pg_engine.dialect.identifier_preparer.format_table(table)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(f'create function "{pg_schema}".on_delete() returns trigger language plpgsql as '
                             f'$$ begin {delete_does}; return null; end $$')
        conn.exec_driver_sql(f'create trigger on_delete before delete on {q_table} for each statement '
                             f'execute function "{pg_schema}".on_delete()')
    code_col = [c.name for c in conv.columns].index("code")
    with contextlib.ExitStack() as failing:
        if error:
            failing.enter_context(pytest.raises(psycopg.Error, match=error))
        with pg_engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
            writer.delete_all()
            with writer.bulk(upsert=False) as put:
                for page in pages:
                    put(page)
    expected = old if error else [row for page in pages for row in page]
    assert _codes(pg_engine, table) == {row[0]: row[code_col] for row in expected}



_TYPES = ["text", "number", "float", "checkbox", "date", "date_time", "url", "serializable", "tag_list", "entity",
          "multi_entity"]
_THING = Schema.of([Entity.of("Thing", "Thing", [Field("Thing", "id", "number"), *(
    Field("Thing", f"f_{t}", t, valid_types=("Thing",) if "entity" in t else ()) for t in _TYPES)])])


_LAYOUT = plan(_THING)
_CONV = RowConverter(_LAYOUT["Thing"], json_as_text=True)
# what the converter hands a writer beyond JSON: datetimes (microseconds, years 2-9998, naive = UTC), dates
_DAMAGED = damaged_values(st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31),
                                       timezones=st.none() | st.just(dt.timezone.utc)),
                          st.dates(), text=("2024-05-01T10:00:00.123456+02:00", "0002-01-01", "é\x01\u2028😀"))


def _stored(value: Any, field_type: str, i: int) -> bool:
    """Whether the rules store ``value`` in that field (else the record would be refused before any writer)."""
    try:
        _CONV.row({"type": "Thing", "id": i, f"f_{field_type}": value}, False, NOW)
    except ValueFitError:
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_DAMAGED, min_size=len(_TYPES), max_size=len(_TYPES)), min_size=1, max_size=4))
def test_duckdb_stores_exactly_the_rows_the_rules_give(tmp_path_factory: pytest.TempPathFactory,
                                                       damaged: list[list[Any]]) -> None:
    """The spool file's encoding (orjson) loses nothing: DuckDB holds each converted row, value for value."""
    layout, conv = _LAYOUT, _CONV
    rows = [conv.row({"type": "Thing", "id": i, **{f"f_{t}": v for t, v in zip(_TYPES, values, strict=True)
                                                  if _stored(v, t, i)}}, False, NOW)
            for i, values in enumerate(damaged, start=1)]
    engine = sa.create_engine(f"duckdb:///{tmp_path_factory.mktemp('w') / 'w.duckdb'}")
    try:
        metadata, _ = prepare(engine, layout, None)
        table = next(t for t in metadata.tables.values() if t.info.get("sg_entity") == "Thing")
        with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
            writer.insert(rows)
        with engine.connect() as conn:   # the driver's values: JSON as the document
            got = conn.exec_driver_sql(f"SELECT {', '.join(writer.q_columns)} FROM {writer.q_table} "
                                       f"ORDER BY id").fetchall()
    finally:
        engine.dispose()
    json_cols = {i for i, c in enumerate(conv.columns) if c.logical is Logical.JSON}

    def documents(row: Sequence[Any]) -> list[Any]:   # the converter's JSON columns are JSON text
        return [json.loads(v) if i in json_cols and v is not None else v for i, v in enumerate(row)]

    assert [list(r) for r in got] == [documents(r) for r in rows]


@contextlib.contextmanager
def _reload_failing_under_a_lock(engine: sa.Engine, pg_schema: str, failed: list[BaseException],
                                 on_writer: Callable[[Any], None] = lambda writer: None
                                 ) -> Iterator[threading.Thread]:
    """Five rows in the Shot table, then a full reload of it on a thread (its DELETE, a first page, then the
    load's own error, which goes to ``failed``) while another session holds a SHARE lock on the table, so that
    the DELETE waits; yields the thread while the lock is held, then joins it and checks the table kept its
    five rows."""
    table, conv = _shot_table(engine, pg_schema)
    old = _rows(conv, range(1, 6))
    with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
        writer.insert(old)

    def failing_load() -> None:
        try:
            with engine.begin() as conn, contextlib.closing(writer_for(conn, table, conv.columns)) as writer:
                on_writer(writer)
                writer.delete_all()
                with writer.bulk(upsert=False) as put:
                    put(old[:2])
                    raise RuntimeError("a value did not fit")
        except Exception as exc:  # noqa: BLE001 - which error arrives is the point
            failed.append(exc)

    with engine.connect() as holder, holder.begin():
        holder.exec_driver_sql(f"LOCK TABLE {engine.dialect.identifier_preparer.format_table(table)} IN SHARE MODE")
        load = threading.Thread(target=failing_load)
        load.start()
        yield load
    load.join()
    assert _codes(engine, table) == {row[0]: row[[c.name for c in conv.columns].index("code")] for row in old}


def test_postgres_a_load_failing_before_its_first_write_does_not_wait_for_its_delete(
        pg_engine: sa.Engine, pg_schema: str) -> None:
    """Another session's lock holds the reload's DELETE back; the load fails on its first page: the writer
    cancels the DELETE and the transaction rolls back while that lock is still held (waiting for the DELETE
    would wait for the other session: forever, here); the table keeps its rows."""
    failed: list[BaseException] = []
    with _reload_failing_under_a_lock(pg_engine, pg_schema, failed) as load:
        load.join(timeout=60)   # a liveness bound, not a speed: without the cancel the load never returns
        returned_under_the_lock = not load.is_alive()
    assert returned_under_the_lock and [type(e) for e in failed] == [RuntimeError]


def test_postgres_a_cancel_that_cannot_be_sent_does_not_replace_the_loads_own_error(
        pg_engine: sa.Engine, pg_schema: str) -> None:
    """A pooler without cancel support makes psycopg's ``cancel()`` raise: the writer then waits for the
    DELETE (here until the other session lets go) and the load fails with its own error, not the cancel's;
    the table keeps its rows."""
    import psycopg

    failed: list[BaseException] = []
    cancels: list[int] = []

    def no_cancel() -> None:
        cancels.append(1)
        raise psycopg.OperationalError("cancel not supported by this pooler")

    def without_cancel(writer: Any) -> None:
        writer.raw.cancel = no_cancel

    with _reload_failing_under_a_lock(pg_engine, pg_schema, failed, without_cancel) as load:
        while not cancels and load.is_alive():
            load.join(timeout=0.05)
    assert cancels and [type(e) for e in failed] == [RuntimeError]
