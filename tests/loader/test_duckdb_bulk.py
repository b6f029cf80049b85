"""DuckDB's SQL path for dumps (:mod:`sg2dbt.loader.duckdb_bulk`) stores what the row path stores, and
declines (so that the row path coerces or refuses) every value the row path would not store unchanged.

Two levels: the statement itself on one-record files (every misfit value, every type, and hypothesis's
damaged values: when SQL gives a row, the row converter gives the same row), and whole loads (the same rows
and the same refusals as the row path, the row path forced by turning the SQL path off).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sg2dbt.core.convert import RowConverter
from sg2dbt.core.errors import ValueFitError
from sg2dbt.core.layout import plan
from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.typemap import Logical
from sg2dbt.loader import DumpSource, LoadOptions, duckdb_bulk, load
from sg2dbt.loader.writers import MAX_OBJECT_SIZE
from sg2dbt.schema import sources
from tests.support.damaged import damaged_values
from tests.support.sgsite import record

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TYPES = ["text", "number", "float", "currency", "percent", "duration", "timecode", "checkbox", "date",
         "date_time", "url", "serializable", "tag_list", "entity", "multi_entity"]


def _schema(types: list[str] = TYPES) -> Schema:
    fields = [Field("Thing", "id", "number")]
    fields += [Field("Thing", f"f_{t}", t, valid_types=("Thing",) if "entity" in t else ()) for t in types]
    return Schema.of([Entity.of("Thing", "Thing", fields)])


_CON = duckdb.connect()
_CONVERTERS = {t: RowConverter(plan(_schema([t]))["Thing"]) for t in TYPES}
_CONVERTERS["*"] = RowConverter(plan(_schema())["Thing"])


def _dump_line(rec: Any) -> str:
    """A record as `sg2dbt dump` writes it: NaN kept, non-ASCII as is, lone surrogates as \\u escapes."""
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":"))


def _write(path: Path, records: list[Any]) -> None:
    with path.open("w", encoding="utf-8", errors="backslashreplace") as fh:
        fh.writelines(_dump_line(r) + "\n" for r in records)


def _normal(conv: RowConverter, row: Any) -> tuple[Any, ...]:
    """A row for comparison: JSON columns as documents (DuckDB and Python spell numbers differently)."""
    out = []
    for col, v in zip(conv.columns, row, strict=True):
        if col.logical is Logical.JSON and isinstance(v, str):
            v = json.loads(v)
        elif col.logical is Logical.DOUBLE and v is not None and math.isnan(v):
            v = "nan"
        out.append(v)
    return tuple(out)


def _sql_row(conv: RowConverter, tmp_path: Path, rec: Any) -> tuple[Any, ...] | None:
    """The SQL path's row for one record, or None when the statement declines it."""
    path = tmp_path / "one.jsonl"
    _write(path, [rec])
    try:
        rows = _CON.execute(duckdb_bulk.select_sql(conv.table, conv.columns, str(path), retired=False,
                                                   loaded_at=NOW)).fetchall()
    except (duckdb.Error, UnicodeDecodeError):   # the latter: DuckDB's message cut inside a character
        return None
    assert len(rows) == 1
    return _normal(conv, rows[0])


def _row_path(conv: RowConverter, rec: Any) -> tuple[Any, ...] | None:
    """What the row path stores for the record as the dump file gives it back (None: refused)."""
    try:
        back = json.loads(_dump_line(rec).encode("utf-8", "backslashreplace").decode("utf-8"))
        return _normal(conv, conv.row(back, False, NOW))
    except ValueFitError:
        return None


MISFITS: list[Any] = [
    "12", "-3", "12.0", "1e3", "12.5", "", " 12", "true", "FALSE", "yes", 12.0, 1.5, 1e19, -0.0, 0, -1, 7,
    2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, 10**30, 123456789012345678, 1234567890123456789,
    math.nan, math.inf, -math.inf, True, False,
    "x\x00y", "lone \ud800", "é€😀", 'quote"d', "back\\slash", "tab\tnew\nline", "a,b", "\\u0000",
    "2024-05-01", "2024-02-30", "20240501", "2024-W01-1", "0000-01-01", "2024-5-1",
    "2024-05-01T10:00:00Z", "2024-05-01T10:00:00z", "2024-05-01 10:00:00", "2024-05-01T10:00:00+02:00",
    "2024-05-01T10:00:00.123+02:00", "2024-05-01T10:00:00.123456", "2024-05-01T10:00:00.1234567",
    "2024-05-01T24:00:00", "2024-05-01T10:00:60", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "2024-05-01T10:00:00+02:00:30", "2024-05-01T10:00",
    {"type": "Thing", "id": 1}, {"type": "Thing", "id": 1, "name": "x"}, {"id": 1, "type": "Thing"},
    {"type": 5, "id": 1}, {"type": "Thing", "id": "1"}, {"type": "Thing", "id": 1.0}, {"type": "Thing"},
    {"id": 2}, {"type": "Th\x00ing", "id": 1}, {"type": "Thing", "id": True}, {"type": "Thing", "id": 2**63}, {},
    [], [{"type": "Thing", "id": 1}, {"type": "Other", "id": 2, "name": "n"}], [{"type": "A,B", "id": 1}],
    [{"type": "Thing", "id": "1"}], [{"type": "Thing"}], [5], [None], [{"type": "Thing", "id": 1}, 5],
    [{"type": 'q"t', "id": 1}], [{"type": "Thing", "id": -0.0}], ["hero", "tag"], [1, 2.5, "x", None],
    [{"type": "Thing", "id": 1}, {"type": "Thing", "id": -2}], [{"id": 1}], [{"type": "Thing", "id": None}],
    [{"type": "Th\\ing", "id": 1}], [{"type": "Thing", "id": 10**18}], [{"type": "Thing", "id": 1, "id2": "x"}],
    {"a": [1, 2.5, "x"], "b": {"c": None}}, {"k\x00": 1}, {"a": math.nan}, {"a": 1e22}, {"a": "\udfff"},
]


@pytest.mark.parametrize("field_type", TYPES)
def test_sql_stores_a_value_only_as_the_row_path_does(field_type: str, tmp_path: Path) -> None:
    declined = 0
    for value in MISFITS:
        rec = {"type": "Thing", "id": 1, f"f_{field_type}": value}
        conv = _CONVERTERS[field_type]
        sql, rows = _sql_row(conv, tmp_path, rec), _row_path(conv, rec)
        if sql is None:
            declined += 1   # the row path coerces or refuses it, with its own message
        else:
            assert sql == rows, f"{field_type} {value!r}"
    assert 0 < declined < len(MISFITS)   # both branches taken for every type


_values = damaged_values()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_values, min_size=len(TYPES), max_size=len(TYPES)))
def test_sql_agrees_with_the_row_path_on_damaged_records(tmp_path: Path, damaged: list[Any]) -> None:
    rec = {"type": "Thing", "id": 1, **{f"f_{t}": v for t, v in zip(TYPES, damaged, strict=True)}}
    sql = _sql_row(_CONVERTERS["*"], tmp_path, rec)
    if sql is not None:
        assert sql == _row_path(_CONVERTERS["*"], rec)


# ---- whole loads ----------------------------------------------------------------------------------------


def _load(tmp_path: Path, name: str, layout: Any, dump: Path) -> tuple[Any, list[tuple[Any, ...]]]:
    engine = sa.create_engine(f"duckdb:///{tmp_path / name}")
    try:
        summary = load(engine, layout, DumpSource(dump), LoadOptions(workers=1))
        rows: list[tuple[Any, ...]] = []
        for raw in layout:
            with engine.connect() as conn:
                got = conn.exec_driver_sql(f"SELECT * EXCLUDE (_sg_loaded_at) FROM shotgrid_raw.{raw.name} "
                                           f"ORDER BY id").fetchall()
                types = conn.exec_driver_sql(f"SELECT data_type FROM information_schema.columns WHERE "
                                             f"table_name = '{raw.name}' AND column_name <> '_sg_loaded_at' "
                                             f"ORDER BY ordinal_position").scalars().all()
            json_cols = {i for i, t in enumerate(types) if t == "JSON"}
            rows += [(raw.name, *(json.loads(v) if i in json_cols and isinstance(v, str) else v
                                  for i, v in enumerate(r))) for r in got]
        return summary, rows
    finally:
        engine.dispose()


def _both(tmp_path: Path, layout: Any, dump: Path, monkeypatch: pytest.MonkeyPatch,
          caplog: pytest.LogCaptureFixture) -> tuple[Any, Any, Any, Any, list[str]]:
    with caplog.at_level(logging.INFO, logger="sg2dbt.loader.run"):
        sql_summary, sql_rows = _load(tmp_path, "sql.duckdb", layout, dump)
    declined = [r.getMessage() for r in caplog.records if "SQL path declined" in r.getMessage()]
    with monkeypatch.context() as m:
        m.setattr(duckdb_bulk, "applies", lambda source, writer: False)
        row_summary, row_rows = _load(tmp_path, "rows.duckdb", layout, dump)
    return sql_summary, sql_rows, row_summary, row_rows, declined


def _summary(s: Any) -> list[tuple[Any, ...]]:
    return [(e.entity, e.mode, e.rows, e.retired, e.rows_live, e.rows_retired, e.error) for e in s.entities]


def test_a_real_schema_dump_loads_to_the_same_rows(real_schema_path: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    schema = sources.from_path(real_schema_path)
    only = schema.filtered(only=["Shot", "Asset", "Version", "HumanUser"])
    dump = tmp_path / "dump"
    dump.mkdir()
    for entity in only:
        live = [record(schema[entity.name], i, schema) for i in range(1, 60)]
        retired = [record(schema[entity.name], i, schema) for i in (58, 59, 70)]   # 58, 59: retired meanwhile
        for name, recs in ((f"{entity.name}.jsonl", live), (f"{entity.name}.retired.jsonl", retired)):
            (dump / name).write_text("".join(json.dumps(r, default=dt.datetime.isoformat) + "\n" for r in recs),
                                     encoding="utf-8")
    layout = plan(only)
    sql_summary, sql_rows, row_summary, row_rows, declined = _both(tmp_path, layout, dump, monkeypatch, caplog)
    assert declined == []   # the SQL path took every entity
    assert _summary(sql_summary) == _summary(row_summary)
    assert all(e.rows_live == 57 and e.rows_retired == 3 and not e.error for e in sql_summary.entities)
    assert sql_rows == row_rows and len(sql_rows) == 4 * 60


@pytest.mark.parametrize(("value", "message"), [
    ("12.5", "entity 'Thing', id 2, field 'f_number': expected an integer, got the string '12.5'"),
    ({"type": "Thing", "id": "7"}, "field 'f_entity'"),
    ("2024-02-30", "field 'f_date'"),
    ("x\x00", "field 'f_text'"),
])
def test_a_misfit_value_is_refused_with_the_row_paths_message(value: Any, message: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    field = {"12.5": "f_number", "2024-02-30": "f_date", "x\x00": "f_text"}.get(value, "f_entity") \
        if isinstance(value, str) else "f_entity"
    dump = tmp_path / "dump"
    dump.mkdir()
    _write(dump / "Thing.jsonl", [{"type": "Thing", "id": 1}, {"type": "Thing", "id": 2, field: value}])
    sql_summary, sql_rows, row_summary, row_rows, declined = _both(tmp_path, plan(_schema()), dump,
                                                                   monkeypatch, caplog)
    assert len(declined) == 1
    assert sql_summary.entities[0].error == row_summary.entities[0].error
    assert message in (sql_summary.entities[0].error or "")
    assert sql_rows == row_rows == []   # rolled back: nothing half-written


def test_coercible_values_load_through_the_row_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    _write(dump / "Thing.jsonl", [{"type": "Thing", "id": 1, "f_number": "12", "f_checkbox": "TRUE"},
                                  {"type": "Thing", "id": 2, "f_float": 3}])
    sql_summary, sql_rows, row_summary, row_rows, declined = _both(tmp_path, plan(_schema()), dump,
                                                                   monkeypatch, caplog)
    assert len(declined) == 1 and not sql_summary.failed
    assert _summary(sql_summary) == _summary(row_summary) and sql_rows == row_rows and len(sql_rows) == 2


@pytest.mark.parametrize("damage", ["duplicate", "retired duplicate", "bad line", "count"])
def test_damaged_files_fail_as_on_the_row_path(damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    live = [{"type": "Thing", "id": i, "f_text": f"t{i}"} for i in (1, 2, 3)]
    retired = [{"type": "Thing", "id": 9}]
    if damage == "duplicate":
        live.append(live[0])
    elif damage == "retired duplicate":
        retired.append(retired[0])
    _write(dump / "Thing.jsonl", live)
    _write(dump / "Thing.retired.jsonl", retired)
    if damage == "bad line":
        with (dump / "Thing.jsonl").open("a", encoding="utf-8") as fh:
            fh.write('{"type": "Thing", "id": 4,\n')
    if damage == "count":
        (dump / "_manifest.json").write_text(json.dumps({
            "format": "sg2dbt-dump/1", "started_at": "2024-05-01T10:00:00+00:00",
            "entities": {"Thing": {"started_at": "2024-05-01T10:00:00+00:00", "live": 4, "retired": 1}}}))
    sql_summary, sql_rows, row_summary, row_rows, _ = _both(tmp_path, plan(_schema()), dump, monkeypatch, caplog)
    error = sql_summary.entities[0].error
    assert error and error == row_summary.entities[0].error
    assert sql_rows == row_rows == []


def test_a_record_longer_than_the_read_buffers_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    # DuckDB's reader refuses a record past about twice maximum_object_size: the SQL path declines it, and the
    # row path's spool file is read with buffers sized from its longest line
    huge = "é" * (MAX_OBJECT_SIZE + 1) + "x" * MAX_OBJECT_SIZE
    dump = tmp_path / "dump"
    dump.mkdir()
    _write(dump / "Thing.jsonl", [{"type": "Thing", "id": 1, "f_text": "small"},
                                  {"type": "Thing", "id": 2, "f_text": huge}])
    sql_summary, sql_rows, row_summary, row_rows, declined = _both(tmp_path, plan(_schema()), dump,
                                                                   monkeypatch, caplog)
    assert len(declined) == 1 and "maximum_object_size" in declined[0]
    assert not sql_summary.failed and _summary(sql_summary) == _summary(row_summary)
    assert sql_rows == row_rows and [("small" in r, huge in r) for r in sql_rows] == [(True, False), (False, True)]
