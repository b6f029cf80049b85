"""Several loaders on one PostgreSQL warehouse: bounded waits for an entity lock, and a race-free first run.

A loader that finds another one loading an entity waits at most ``--lock-timeout`` seconds, then fails that
entity alone with a message naming the holder (pid, application, user), and loads the others. Loaders started
together on a fresh database create the raw schema, the tables and the sync table without tripping over each
other (``CREATE SCHEMA`` / ``CREATE TABLE`` race on PostgreSQL's catalog even with ``IF NOT EXISTS``).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.loader import DumpSource, LoadOptions, load
from sg2dbt.schema import sources
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres

Cli = Callable[..., tuple[int, str, str]]
ENTITIES = ["Asset", "Shot"]


def _dump(directory: Path, n: int = 30) -> Path:
    directory.mkdir()
    at = "2024-05-01T12:00:00+00:00"
    for entity in ENTITIES:
        lines = [json.dumps({"type": entity, "id": i, "code": f"{entity}-{i}",
                             "updated_at": "2024-05-01T10:00:00Z"}) for i in range(1, n + 1)]
        (directory / f"{entity}.jsonl").write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        (directory / f"{entity}.retired.jsonl").write_text("", encoding="utf-8")
    (directory / "_manifest.json").write_text(json.dumps({
        "format": "sg2dbt-dump/1", "started_at": at,
        "entities": {e: {"started_at": at, "live": n, "retired": 0} for e in ENTITIES}}), encoding="utf-8")
    return directory


def _ids(engine: sa.Engine, schema: str, table: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f'select id from "{schema}".{table} order by id')).scalars())


def test_a_loader_waits_a_bounded_time_then_fails_the_entity_naming_the_holder(
        cli: Cli, real_schema_path: Path, pg_engine: sa.Engine, pg_schema: str, tmp_path: Path) -> None:
    dump = _dump(tmp_path / "dump")
    args = ["load", "--schema", str(real_schema_path), *(a for e in ENTITIES for a in ("--only", e)),
            "--db", PG_URL, "--raw-schema", pg_schema, "--from-dump", str(dump), "--json"]
    code, _, err = cli(*args)
    assert code == 0, err
    holder = sa.create_engine(PG_URL, connect_args={"application_name": "nightly-loader-A"})
    try:
        with holder.connect() as conn, conn.begin():
            # what another loader in the middle of Shot holds
            conn.execute(sa.text("select pg_advisory_xact_lock(hashtext(:key))"),
                         {"key": f"sg2dbt load {pg_schema}.shot"})
            code, out, err = cli(*args, "--full-refresh", "--lock-timeout", "0.5")
            pid = conn.execute(sa.text("select pg_backend_pid()")).scalar()
    finally:
        holder.dispose()
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("sg2dbt: error: 1 of 2 entities failed; first: entity 'Shot': waited "
                               "--lock-timeout (0.5 s) for another loader of it"), lines[0]
    assert f"pid {pid}" in lines[0] and "'nightly-loader-A'" in lines[0] and "user 'postgres'" in lines[0]
    summary = json.loads(out)
    by_entity = {e["entity"]: e for e in summary["entities"]}
    assert by_entity["Asset"]["error"] is None and by_entity["Asset"]["mode"] == "full"
    assert "nightly-loader-A" in by_entity["Shot"]["error"]
    assert _ids(pg_engine, pg_schema, "shot") == list(range(1, 31))   # untouched
    # the lock released, the same run goes through
    code, _, err = cli(*args, "--lock-timeout", "0.5")
    assert code == 0, err


def test_loaders_started_together_on_a_fresh_database_all_succeed(
        real_schema_path: Path, pg_engine: sa.Engine, tmp_path: Path) -> None:
    """Four loaders on a database that has neither the raw schema nor any table: each creates what it finds
    missing at the same moment (a barrier), none fails, and the tables hold the dump's rows once."""
    schema_name = f"t_fresh_{uuid.uuid4().hex[:10]}"
    layout = plan(sources.from_path(real_schema_path).filtered(only=[*ENTITIES, "Sequence", "Project"]))
    dump = _dump(tmp_path / "dump")
    for entity in ("Sequence", "Project"):
        (dump / f"{entity}.jsonl").write_text(json.dumps({"type": entity, "id": 1}) + "\n", encoding="utf-8")
    barrier = threading.Barrier(4)
    results: list[Any] = []
    errors: list[BaseException] = []
    engines = [sa.create_engine(PG_URL) for _ in range(4)]

    def run(engine: sa.Engine) -> None:
        try:
            with engine.connect():   # connected before the barrier: the creation statements start together
                pass
            barrier.wait()
            results.append(load(engine, layout, DumpSource(dump), LoadOptions(raw_schema=schema_name, workers=2)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert [[e.error for e in r.failed] for r in results] == [[]] * 4
        assert _ids(pg_engine, schema_name, "shot") == list(range(1, 31))
        assert _ids(pg_engine, schema_name, "asset") == list(range(1, 31))
    finally:
        for e in engines:
            e.dispose()
        with pg_engine.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema_name}" cascade'))


def test_a_second_loader_on_a_duckdb_file_fails_at_once_naming_the_holders_pid(
        cli: Cli, real_schema_path: Path, tmp_path: Path) -> None:
    """DuckDB locks the whole file: another process holding it makes the loader fail in one line, with DuckDB's
    own message naming the holder's pid, and the --json summary."""
    import subprocess
    import sys
    import time

    db, ready = tmp_path / "w.duckdb", tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, pathlib, sys, time; "
                               f"c = duckdb.connect({str(db)!r}); pathlib.Path({str(ready)!r}).touch(); "
                               "sys.stdin.read()"], stdin=subprocess.PIPE, text=True)
    try:
        while not ready.exists():
            assert holder.poll() is None
            time.sleep(0.05)
        code, out, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--db", f"duckdb:///{db}",
                             "--from-dump", str(_dump(tmp_path / "dump")), "--json")
    finally:
        holder.communicate("")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "Conflicting lock is held" in lines[0] and f"PID {holder.pid}" in lines[0]
    assert json.loads(out)["entities"] == []
