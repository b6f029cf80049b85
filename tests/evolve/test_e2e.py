"""Issue 5 end to end on PostgreSQL: a schema changes under a running warehouse.

schema v1 -> build, migrate, load, dbt build; schema v2 (a new field, a new custom entity, a removed field, a
changed type) -> diff reports each change; migrate adds the new table and columns without losing a row and
refuses the destructive changes with one clear message; the loader refuses to load into the drifted
tables and names the fix; migrate --allow-destructive; load fills the new column; dbt build passes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa

from sg2dbt.cli import main
from sg2dbt.core.layout import plan
from sg2dbt.schema import sources
from tests.support.evolve_schemas import v2, write

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PROJECT = {"type": "Project", "id": 1}


def _dump(directory: Path, records: dict[str, list[dict[str, Any]]]) -> Path:
    """An offline dump: one <Entity>.jsonl of find()-shaped records per entity."""
    directory.mkdir(parents=True)
    for entity, rows in records.items():
        (directory / f"{entity}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return directory


def _v1_records() -> dict[str, list[dict[str, Any]]]:
    return {
        "Project": [{"type": "Project", "id": 1, "name": "Alpha", "updated_at": "2024-05-01T10:00:00Z"}],
        "Shot": [
            {"type": "Shot", "id": 10, "code": "sh010", "sg_status_list": "ip", "sg_cut_in": 1001,
             "sg_old_notes": "first", "project": PROJECT, "updated_at": "2024-05-01T10:00:00Z"},
            {"type": "Shot", "id": 11, "code": "sh020", "sg_status_list": "wtg", "sg_cut_in": 1017,
             "sg_old_notes": None, "project": PROJECT, "updated_at": "2024-05-01T10:05:00Z"},
        ],
    }


def _v2_records() -> dict[str, list[dict[str, Any]]]:
    episode = {"type": "CustomEntity01", "id": 3}
    return {
        "Project": [{"type": "Project", "id": 1, "name": "Alpha", "updated_at": "2024-05-01T10:00:00Z"}],
        "CustomEntity01": [{"type": "CustomEntity01", "id": 3, "code": "ep01", "project": PROJECT,
                            "updated_at": "2024-06-01T09:00:00Z"}],
        "Shot": [
            {"type": "Shot", "id": 10, "code": "sh010", "sg_status_list": "ip", "sg_cut_in": 1001.5,
             "sg_shot_type": "vfx", "sg_episode": episode, "project": PROJECT,
             "updated_at": "2024-05-01T10:00:00Z"},
            {"type": "Shot", "id": 11, "code": "sh020", "sg_status_list": "fin", "sg_cut_in": 1017,
             "sg_shot_type": "cg", "sg_episode": None, "project": PROJECT, "updated_at": "2024-06-02T10:05:00Z"},
            {"type": "Shot", "id": 12, "code": "sh030", "sg_status_list": "wtg", "sg_cut_in": None,
             "sg_shot_type": "vfx", "sg_episode": episode, "project": PROJECT,
             "updated_at": "2024-06-02T11:00:00Z"},
        ],
    }


@pytest.fixture
def schemas(pg_engine: sa.Engine) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:10]
    raw, target = f"raw_{tag}", f"stg_{tag}"
    yield raw, target
    with pg_engine.begin() as conn:
        for s in (target, raw):
            conn.execute(sa.text(f'drop schema if exists "{s}" cascade'))


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in-process through its real entry point: (exit status, stdout, stderr)."""
    capsys.readouterr()    # drop what ran before (dbt's log)
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _errors(stderr: str) -> list[str]:
    # Only the CLI's error lines: an earlier in-process CLI run may have bound logging to a closed stream,
    # whose "--- Logging error ---" noise lands on this stderr too.
    return [line for line in stderr.splitlines() if line.startswith("sg2dbt: error:")]


def _dbt_build(project: Path, engine: sa.Engine, raw: str, target: str) -> Any:
    from dbt.cli.main import dbtRunner

    url = engine.url
    env = {"SG2DBT_RAW_SCHEMA": raw, "SG2DBT_SCHEMA": target, "SG2DBT_TARGET": "postgres",
           "SG2DBT_PG_HOST": url.host or "127.0.0.1", "SG2DBT_PG_PORT": str(url.port or 5432),
           "SG2DBT_PG_USER": url.username or "postgres", "SG2DBT_PG_DBNAME": url.database or "postgres",
           "DBT_ENV_SECRET_PG_PASSWORD": url.password or ""}
    with mock.patch.dict(os.environ, env):
        return dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir", str(project)])


def _rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_schema_change_from_v1_to_v2(pg_engine: sa.Engine, schemas: tuple[str, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    raw, target = schemas
    url = pg_engine.url.render_as_string(hide_password=False)
    old, new = write(tmp_path)
    project = tmp_path / "project"
    v2_schema = sources.from_dict(v2())

    # v1: build, migrate, load, dbt build.
    assert _cli(capsys, "build", "--schema", old, "--out", project, "--adapter", "postgres",
                "--raw-schema", raw)[0] == 0
    code, out, err = _cli(capsys, "migrate", "--schema", old, "--db", url, "--raw-schema", raw)
    assert code == 0, err
    assert sorted(out.splitlines()) == [f"create table {raw}.project (5 columns)",
                                        f"create table {raw}.shot (10 columns)"]
    dump_v1 = _dump(tmp_path / "dump_v1", _v1_records())
    code, out, err = _cli(capsys, "load", "--schema", old, "--db", url, "--raw-schema", raw, "--from-dump", dump_v1,
                          "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == 3
    result = _dbt_build(project, pg_engine, raw, target)
    assert result.success, result.exception
    assert _rows(pg_engine, f'select shot_id, sg_cut_in from "{target}".stg_shotgrid__shot order by 1') == [
        (10, 1001), (11, 1017)]

    # v2: diff names each change.
    code, out, _ = _cli(capsys, "diff", old, new, "--json")
    doc = json.loads(out)
    assert [(e["entity"], e["change"]) for e in doc["entities"]] == [("CustomEntity01", "added")]
    changes = {(f["field"], f["change"]): f for f in doc["fields"]}
    assert set(changes) == {("code", "changed"), ("sg_cut_in", "changed"), ("sg_episode", "added"),
                            ("sg_old_notes", "removed"), ("sg_shot_type", "added")}
    assert changes["sg_cut_in", "changed"]["columns"] == [{
        "table": "shot", "column": "sg_cut_in", "change": "changed", "old_type": "bigint", "new_type": "double",
        "old_field": None, "new_field": None}]
    assert [c["column"] for c in changes["sg_old_notes", "removed"]["columns"]] == ["sg_old_notes"]

    # migrate: additive changes applied, rows kept, destructive ones refused with one message.
    code, out, err = _cli(capsys, "migrate", "--schema", new, "--db", url, "--raw-schema", raw)
    assert code == 2
    layout = plan(v2_schema)
    assert set(out.splitlines()) == {
        f"create table {raw}.custom_entity01 ({len(layout['CustomEntity01'].columns)} columns)",
        f"add column {raw}.shot.sg_episode_id BIGINT", f"add column {raw}.shot.sg_episode_type TEXT",
        f"add column {raw}.shot.sg_shot_type TEXT"}
    assert _errors(err) == [
        f"sg2dbt: error: refused 2 destructive change(s): change type of {raw}.shot.sg_cut_in from BIGINT to "
        f"DOUBLE PRECISION; drop column {raw}.shot.sg_old_notes. These lose data in the raw tables (SG may no "
        f"longer serve it: retired records, removed fields). Re-run with --allow-destructive to apply them"]
    assert _rows(pg_engine, f'select id, sg_cut_in, sg_old_notes from "{raw}".shot order by id') == [
        (10, 1001, "first"), (11, 1017, None)]

    # The loader will not write doubles into the old bigint column: it says which command fixes that.
    dump_v2 = _dump(tmp_path / "dump_v2", _v2_records())
    load_v2 = ("load", "--schema", new, "--db", url, "--raw-schema", raw, "--from-dump", dump_v2, "--json")
    code, _, err = _cli(capsys, *load_v2)
    assert code == 2
    assert _errors(err) == [
        f"sg2dbt: error: the database does not match the schema: change type of {raw}.shot.sg_cut_in from "
        f"BIGINT to DOUBLE PRECISION. Run `sg2dbt migrate --schema <schema file> --db <url> --raw-schema {raw} "
        f"--allow-destructive` first"]
    assert _rows(pg_engine, f'select count(*) from "{raw}".custom_entity01') == [(0,)]

    code, out, err = _cli(capsys, "migrate", "--schema", new, "--db", url, "--raw-schema", raw,
                          "--allow-destructive")
    assert code == 0, err
    assert f"change type of {raw}.shot.sg_cut_in from BIGINT to DOUBLE PRECISION" in out
    assert f'drop view "{target}"."stg_shotgrid__shot"' in out       # dbt's view on the retyped column
    assert _rows(pg_engine, f'select id, sg_cut_in from "{raw}".shot order by id') == [(10, 1001.0), (11, 1017.0)]

    # load fills the new columns (a changed field set makes the loader reload the entity whole; Project too,
    # because a dump without a manifest says nothing of when it was taken and so advanced no mark).
    code, out, err = _cli(capsys, *load_v2)
    assert code == 0, err
    assert {e["entity"]: e["mode"] for e in json.loads(out)["entities"]} == {
        "CustomEntity01": "full", "Project": "full", "Shot": "full"}
    assert _rows(pg_engine, f'select id, sg_cut_in, sg_shot_type, sg_episode_id from "{raw}".shot order by id') == [
        (10, 1001.5, "vfx", 3), (11, 1017.0, "cg", None), (12, None, "vfx", 3)]
    assert _rows(pg_engine, f'select id, code from "{raw}".custom_entity01') == [(3, "ep01")]

    # refresh the dbt project: the new entity and fields appear, and dbt build passes.
    code, _, err = _cli(capsys, "build", "--schema", new, "--out", project, "--adapter", "postgres",
                        "--raw-schema", raw)
    assert code == 0, err
    result = _dbt_build(project, pg_engine, raw, target)
    assert result.success, result.exception
    assert _rows(pg_engine, f'select shot_id, sg_shot_type, sg_episode_id from "{target}".stg_shotgrid__shot '
                            f'order by 1') == [(10, "vfx", 3), (11, "cg", None), (12, "vfx", 3)]
    assert _rows(pg_engine, f'select count(*) from "{target}".stg_shotgrid__custom_entity01') == [(1,)]
    staged = {r[0] for r in _rows(pg_engine, "select column_name from information_schema.columns where "
                                             f"table_schema = '{target}' and table_name = 'stg_shotgrid__shot'")}
    assert "sg_old_notes" not in staged
