"""A real ``sg2dbt load`` process killed with SIGKILL mid-load, then re-run: exactly the source's rows.

On PostgreSQL and DuckDB. The test's hold hook (``tests.support.crashhold``, wrapped around the loader from
outside) makes it block inside its open transaction after a given number of pages, and say so in a file; the
test waits for that file and kills the process: the kill lands at the same point every time. Then kills at
random moments (a seeded delay after the start, from before the loader has imported anything to after it
finished): whatever the moment, every table holds either its last committed state or the new one, never a
mixture, and the re-run ends equal to the source. On DuckDB the killed loader's spool file (beside the
database) is removed by the next run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout, plan
from sg2dbt.core.model import Schema
from sg2dbt.schema import sources
from tests.conftest import PG_URL
from tests.loader.test_load import db_rows, expected_columns
from tests.support.crashhold import command, hold_env
from tests.support.sgsite import BASE_TIME, record, write_dump

ENTITIES = ["Asset", "EventLogEntry", "Shot"]   # EventLogEntry has no updated_at: reloaded whole
N = 1200                                         # 3 pages of 500 per entity


def _read_dump(directory: Path, entity: str) -> dict[int, tuple[dict[str, Any], bool]]:
    out = {}
    for retired in (False, True):
        path = directory / f"{entity}{'.retired' if retired else ''}.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                out[rec["id"]] = (rec, retired)
    return out


def _expected(layout: RawLayout, directory: Path) -> dict[str, dict[int, dict[str, Any]]]:
    return {raw.entity.name: {rid: expected_columns(raw, rec, retired)
                              for rid, (rec, retired) in _read_dump(directory, raw.entity.name).items()}
            for raw in layout}


def _matches(actual: dict[int, dict[str, Any]], expected: dict[int, dict[str, Any]]) -> bool:
    return sorted(actual) == sorted(expected) and all(
        {k: actual[rid][k] for k in exp} == exp for rid, exp in expected.items())


def _db_tables(url: str, layout: RawLayout, raw_schema: str) -> dict[str, dict[int, dict[str, Any]]]:
    engine = sa.create_engine(url)
    try:
        return {raw.entity.name: db_rows(engine, layout, raw_schema, raw.entity.name) for raw in layout}
    finally:
        engine.dispose()


def assert_db_equals_dump(layout: RawLayout, raw_schema: str, directory: Path, url: str = PG_URL) -> None:
    actual = _db_tables(url, layout, raw_schema)
    for entity, expected in _expected(layout, directory).items():
        assert sorted(actual[entity]) == sorted(expected), entity
        for rid, exp in expected.items():
            assert {k: actual[entity][rid][k] for k in exp} == exp, f"{entity} id {rid}"


def _write_site(directory: Path, schema: Schema, *, generation: int) -> None:
    """Generation 0: the first site; generation 1: updates, new records, retirements, a revival."""
    import datetime as dt

    later = BASE_TIME + dt.timedelta(days=3650)
    for entity in schema:
        live: dict[int, dict[str, Any]] = {i: record(entity, i, schema) for i in range(1, N + 1)}
        retired = {i: live.pop(i) for i in (5, 6, 7)}
        if generation:
            for i in range(100, 110):
                live[i] = record(entity, i, schema, variant=7, updated_at=later)
            for i in range(N + 1, N + 20):
                live[i] = record(entity, i, schema, updated_at=later)
            retired[50] = live.pop(50)
            live[5] = retired.pop(5)
        write_dump(directory, entity, (live[i] for i in sorted(live)))
        write_dump(directory, entity, (retired[i] for i in sorted(retired)), retired=True)


def _load(directory: Path, schema_path: Path, raw_schema: str, tmp_path: Path,
          hold_after: int | None = None, url: str = PG_URL) -> subprocess.Popen[str]:
    env = hold_env(os.environ, hold_after, tmp_path / "held")
    cmd = command("load", "--schema", str(schema_path), *(a for e in ENTITIES for a in ("--only", e)),
                  "--db", url, "--from-dump", str(directory), "--raw-schema", raw_schema, "--workers", "1",
                  "--quiet")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_held(proc: subprocess.Popen[str], held: Path) -> None:
    while not held.exists():
        if proc.poll() is not None:
            pytest.fail(f"loader exited ({proc.returncode}) before reaching the hold point: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    held.unlink()


def _run(proc: subprocess.Popen[str]) -> None:
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


@pytest.fixture(params=["postgresql", "duckdb"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, raw schema) of an empty warehouse."""
    if request.param == "postgresql":
        yield PG_URL, request.getfixturevalue("pg_schema")
    else:
        yield f"duckdb:///{tmp_path / 'crash.duckdb'}", "shotgrid_raw"


def _spool_files(url: str) -> list[Path]:
    from sg2dbt.loader import spool

    where = spool.directory(url.removeprefix("duckdb:///")) if url.startswith("duckdb") else None
    return sorted(where.iterdir()) if where is not None and where.is_dir() else []


def test_sigkill_mid_load_then_rerun_gives_exact_rows(warehouse: tuple[str, str], real_schema_path: Path,
                                                       tmp_path: Path) -> None:
    url, raw_schema = warehouse
    schema = sources.from_path(real_schema_path).filtered(only=ENTITIES)
    layout = plan(schema)
    site = tmp_path / "site"
    _write_site(site, schema, generation=0)

    # Asset commits after 4 pages (3 live, 1 retired); the kill lands inside EventLogEntry's first pages. On
    # DuckDB a full load from a dump writes a file at a time (the SQL path): Asset's two, then EventLogEntry's live.
    proc = _load(site, real_schema_path, raw_schema, tmp_path, hold_after=3 if url.startswith("duckdb") else 6,
                 url=url)
    _kill_when_held(proc, tmp_path / "held")
    if url.startswith("duckdb"):
        assert [p.name.split("@")[0] for p in _spool_files(url)] == [str(proc.pid)]   # left by the kill
    tables = _db_tables(url, layout, raw_schema)
    assert len(tables["Asset"]) == N
    assert tables["EventLogEntry"] == {}
    _run(_load(site, real_schema_path, raw_schema, tmp_path, url=url))
    assert_db_equals_dump(layout, raw_schema, site, url)
    assert _spool_files(url) == []   # the killed loader's spool file went with the next run

    # The site changes; an incremental load is killed inside Asset's transaction, then re-run.
    _write_site(site, schema, generation=1)
    proc = _load(site, real_schema_path, raw_schema, tmp_path, hold_after=1, url=url)
    _kill_when_held(proc, tmp_path / "held")
    _run(_load(site, real_schema_path, raw_schema, tmp_path, url=url))
    assert_db_equals_dump(layout, raw_schema, site, url)
    assert _spool_files(url) == []


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_old_or_new_tables_then_rerun_gives_exact_rows(
        warehouse: tuple[str, str], real_schema_path: Path, tmp_path: Path) -> None:
    """Kills from before loading starts (during start-up, before the raw tables exist) to after the end, on
    a first load and on incremental ones: each table is always its previous committed state or the new one."""
    url, raw_schema = warehouse
    schema = sources.from_path(real_schema_path).filtered(only=ENTITIES)
    layout = plan(schema)
    rng = random.Random(11)
    site = tmp_path / "site"
    # the first kill lands before anything is loaded (start-up, then table creation)
    delays = [0.05, 0.6, *(rng.uniform(0.0, 6.0) for _ in range(6))]
    previous: dict[str, dict[int, dict[str, Any]]] = {raw.entity.name: {} for raw in layout}
    for round_no, delay in enumerate(delays):
        _write_site(site, schema, generation=min(round_no, 1))   # a first load, a changed site, then reruns
        new = _expected(layout, site)
        proc = _load(site, real_schema_path, raw_schema, tmp_path, url=url)
        time.sleep(delay)   # the moment varies; what is asserted afterwards does not depend on it
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        for entity, rows in _db_tables_or_empty(url, layout, raw_schema).items():
            assert _matches(rows, previous[entity]) or _matches(rows, new[entity]), (
                f"round {round_no} (kill after {delay:.2f} s): {entity} is neither its old nor its new state")
        _run(_load(site, real_schema_path, raw_schema, tmp_path, url=url))
        assert_db_equals_dump(layout, raw_schema, site, url)
        assert _spool_files(url) == []
        previous = new


def _db_tables_or_empty(url: str, layout: RawLayout, raw_schema: str) -> dict[str, dict[int, dict[str, Any]]]:
    """The tables' rows; a table the killed loader had not created yet counts as empty."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {raw.entity.name: db_rows(engine, layout, raw_schema, raw.entity.name)
                if inspector.has_table(raw.name, schema=raw_schema) else {} for raw in layout}
    finally:
        engine.dispose()
