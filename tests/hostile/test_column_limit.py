"""An entity wider than the database allows (PostgreSQL: 1,600 columns in a table) fails alone.

``ddl``, ``build``, ``init-db`` and ``load`` each say which entity, how many columns it needs, the limit, and what
to leave out (``--ignore-field``/``--ignore``); every other entity is still written, created and loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL

Cli = Callable[..., tuple[int, str, str]]
WHY = ("entity 'Wide': its raw table needs 1,704 columns, more than postgresql allows in one table (1,600); "
       "leave at least 104 columns out with --ignore-field Wide.FIELD")


def _field(data_type: str) -> dict[str, object]:
    return {"data_type": {"value": data_type}, "properties": {}}


@pytest.fixture
def wide_schema(tmp_path: Path) -> Path:
    """Shot (3 fields) and Wide: 1,700 number fields + id + updated_at, i.e. 1,704 columns with the bookkeeping."""
    fields = {"id": _field("number"), "updated_at": _field("date_time"),
              **{f"sg_n{i:04d}": _field("number") for i in range(1700)}}
    doc = {"Shot": {"name": {"value": "Shot"}, "fields": {"id": _field("number"), "code": _field("text"),
                                                          "updated_at": _field("date_time")}},
           "Wide": {"name": {"value": "Wide"}, "fields": fields}}
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [ln for ln in err.splitlines() if ln.startswith("sg2dbt: error:")]


def test_ddl_leaves_the_wide_table_out_and_fails_naming_it(cli: Cli, wide_schema: Path) -> None:
    code, out, err = cli("ddl", "--schema", str(wide_schema), "--dialect", "postgresql")
    assert code == 2
    assert _error_lines(err) == [f"sg2dbt: error: {WHY} (a link field takes two), or the entity with --ignore Wide"]
    assert "CREATE TABLE IF NOT EXISTS shotgrid_raw.shot" in out and "shotgrid_raw.wide" not in out
    assert f"-- left out: {WHY}" in out
    # DuckDB has no such limit; with fields left out, PostgreSQL takes it
    assert cli("ddl", "--schema", str(wide_schema), "--dialect", "duckdb")[0] == 0
    ignored = [a for i in range(104) for a in ("--ignore-field", f"Wide.sg_n{i:04d}")]
    code, out, err = cli("ddl", "--schema", str(wide_schema), "--dialect", "postgresql", *ignored)
    assert code == 0, err
    assert "shotgrid_raw.wide" in out


def test_build_warns_and_its_raw_ddl_lacks_the_table(cli: Cli, wide_schema: Path, tmp_path: Path) -> None:
    code, _, err = cli("build", "--schema", str(wide_schema), "--out", str(tmp_path / "p"), "--adapter", "postgres")
    assert code == 0, err
    assert [ln for ln in err.splitlines() if ln.startswith("sg2dbt: warning:")] == [
        f"sg2dbt: warning: {WHY} (a link field takes two), or the entity with --ignore Wide "
        f"(left out of raw/create_raw_tables.sql)"]
    ddl = (tmp_path / "p" / "raw" / "create_raw_tables.sql").read_text(encoding="utf-8")
    assert "shotgrid_raw.shot" in ddl and "CREATE TABLE IF NOT EXISTS shotgrid_raw.wide" not in ddl


@pytest.mark.postgres
def test_init_db_and_load_fail_the_wide_entity_alone(cli: Cli, wide_schema: Path, tmp_path: Path,
                                                     pg_engine: sa.Engine, pg_schema: str) -> None:
    code, _, err = cli("init-db", "--schema", str(wide_schema), "--db", PG_URL, "--raw-schema", pg_schema)
    assert code == 2
    assert [WHY in ln for ln in _error_lines(err)] == [True]
    assert set(sa.inspect(pg_engine).get_table_names(schema=pg_schema)) == {"shot"}
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "Shot.jsonl").write_text(json.dumps({"type": "Shot", "id": 1, "code": "a"}) + "\n", encoding="utf-8")
    (dump / "Wide.jsonl").write_text(json.dumps({"type": "Wide", "id": 1, "sg_n0001": 3}) + "\n", encoding="utf-8")
    code, out, err = cli("load", "--schema", str(wide_schema), "--db", PG_URL, "--raw-schema", pg_schema,
                         "--from-dump", str(dump), "--json")
    assert code == 2
    assert [ln for ln in _error_lines(err)] == [f"sg2dbt: error: 1 of 2 entities failed; first: {WHY} (a link "
                                                f"field takes two), or the entity with --ignore Wide"]
    by_entity = {e["entity"]: e for e in json.loads(out)["entities"]}
    assert by_entity["Shot"]["error"] is None and by_entity["Shot"]["rows_live"] == 1
    assert WHY in by_entity["Wide"]["error"]
