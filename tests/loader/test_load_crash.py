"""A real ``sg2dbt load`` process killed with SIGKILL mid-load, then re-run: exactly the source's rows.

The test's hold hook (``tests.support.crashhold``, wrapped around the loader from outside) makes it block inside
its open transaction after a given number of pages, and say so in a file; the test waits for that file and
kills the process.
No sleeps, no timing: the kill lands at the same point every time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
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

pytestmark = pytest.mark.postgres

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


def assert_db_equals_dump(layout: RawLayout, raw_schema: str, directory: Path) -> None:
    engine = sa.create_engine(PG_URL)
    try:
        for raw in layout:
            expected = {rid: expected_columns(raw, rec, retired)
                        for rid, (rec, retired) in _read_dump(directory, raw.entity.name).items()}
            actual = db_rows(engine, layout, raw_schema, raw.entity.name)
            assert sorted(actual) == sorted(expected), raw.entity.name
            for rid, exp in expected.items():
                assert {k: actual[rid][k] for k in exp} == exp, f"{raw.entity.name} id {rid}"
    finally:
        engine.dispose()


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
          hold_after: int | None = None) -> subprocess.Popen[str]:
    env = hold_env(os.environ, hold_after, tmp_path / "held")
    cmd = command("load", "--schema", str(schema_path), *(a for e in ENTITIES for a in ("--only", e)),
                  "--db", PG_URL, "--from-dump", str(directory), "--raw-schema", raw_schema, "--workers", "1",
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


def test_sigkill_mid_load_then_rerun_gives_exact_rows(pg_schema: str, real_schema_path: Path,
                                                       tmp_path: Path) -> None:
    schema = sources.from_path(real_schema_path).filtered(only=ENTITIES)
    layout = plan(schema)
    site = tmp_path / "site"
    _write_site(site, schema, generation=0)

    # Asset commits after 4 pages (3 live, 1 retired); the kill lands inside EventLogEntry's first pages.
    proc = _load(site, real_schema_path, pg_schema, tmp_path, hold_after=6)
    _kill_when_held(proc, tmp_path / "held")
    engine = sa.create_engine(PG_URL)
    try:
        assert len(db_rows(engine, layout, pg_schema, "Asset")) == N
        assert db_rows(engine, layout, pg_schema, "EventLogEntry") == {}
    finally:
        engine.dispose()
    _run(_load(site, real_schema_path, pg_schema, tmp_path))
    assert_db_equals_dump(layout, pg_schema, site)

    # The site changes; an incremental load is killed inside Asset's transaction, then re-run.
    _write_site(site, schema, generation=1)
    proc = _load(site, real_schema_path, pg_schema, tmp_path, hold_after=1)
    _kill_when_held(proc, tmp_path / "held")
    _run(_load(site, real_schema_path, pg_schema, tmp_path))
    assert_db_equals_dump(layout, pg_schema, site)
