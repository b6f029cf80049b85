"""Faults and secrets with a real ``sg2dbt`` process, a stand-in site over HTTP and real databases.

Transient site failures (HTTP 502/503, a dropped connection, a reply slower than the timeout), failures that
outlast the retries, and a database connection killed mid-load: every run either succeeds or fails cleanly,
and a re-run converges to exactly the site's rows. A full run with a recognisable API key leaves the key in
no output, log or file.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sg2dbt.core.layout import plan
from sg2dbt.core.model import Schema
from sg2dbt.schema import sources
from tests.conftest import PG_URL
from tests.loader.test_load import assert_tables_match_site
from tests.support.crashhold import command, hold_env
from tests.support.sgserver import StandInSite, serve
from tests.support.sgsite import seed_mockgun

ENTITIES = ["Asset", "Shot", "ShotShotConnection"]
N = 1100   # three pages of 500 per entity
SCRIPT = "warehouse_etl"
KEY = "sg2dbt-FAKE-KEY-7f3a9c0d1e"


@pytest.fixture(scope="module")
def schema(real_schema_pickles: tuple[Path, Path]) -> Schema:
    return sources.from_mockgun_pickles(*real_schema_pickles).filtered(only=ENTITIES)


@pytest.fixture
def mock_sg(real_schema_pickles: tuple[Path, Path], schema: Schema) -> Any:
    from shotgun_api3.lib.mockgun import Shotgun

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    sg = Shotgun("https://mock.example.com", "x", "y")
    for entity in ENTITIES:
        seed_mockgun(sg, schema, entity, range(1, N + 1))
        sg.delete(entity, 7)
    return sg


@pytest.fixture
def schema_file(tmp_path: Path, real_schema_path: Path) -> Path:
    return real_schema_path


def _env(url: str, key: str = KEY, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SG_")}
    env.update(SG_URL=url, SG_SCRIPT=SCRIPT, SG_API_KEY=key, SG_TIMEOUT_SECS="1", **extra)
    return hold_env(env, None, None)


def _cli(*args: str, env: dict[str, str], cwd: Path | None = None, wait: bool = True) -> Any:
    cmd = command(*args)
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def _load_args(schema_path: Path, db: str, raw_schema: str) -> list[str]:
    return ["load", "--schema", str(schema_path), *(a for e in ENTITIES for a in ("--only", e)), "--db", db,
            "--raw-schema", raw_schema, "--workers", "1", "--retries", "3", "--retry-delay", "0.05", "--quiet"]


def _duck_count(url: str, table: str) -> int:
    import duckdb

    con = duckdb.connect(url.removeprefix("duckdb:///"))   # closed at once: DuckDB lets one process write
    try:
        return int(con.execute(f"select count(*) from {table}").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_transient_site_failures_are_retried_and_rows_are_exact(
        mock_sg: Any, schema: Schema, schema_file: Path, pg_schema: str, pg_engine: sa.Engine) -> None:
    # read 1 is the credentials check; 2.. are pages
    site = StandInSite(mock_sg, script=SCRIPT, key=KEY, faults={2: "503", 4: "502", 5: "slow", 7: "drop", 9: "503"})
    with serve(site) as url:
        code, _, err = _cli(*_load_args(schema_file, PG_URL, pg_schema), env=_env(url))
    assert code == 0, err
    assert sorted(site.faults_served) == sorted(["503", "502", "slow", "drop", "503"])
    assert_tables_match_site(pg_engine, plan(schema), pg_schema, mock_sg)


def test_failure_beyond_retries_fails_cleanly_then_rerun_converges(
        mock_sg: Any, schema: Schema, schema_file: Path, tmp_path: Path) -> None:
    url_db = f"duckdb:///{tmp_path / 'faults.duckdb'}"
    # Asset's second page fails on all three attempts: Asset fails and rolls back, the others load.
    site = StandInSite(mock_sg, script=SCRIPT, key=KEY, faults={3: "503", 4: "503", 5: "503"})
    with serve(site) as url:
        code, _, err = _cli(*_load_args(schema_file, url_db, "raw"), env=_env(url))
        assert code == 2
        lines = [ln for ln in err.splitlines() if ln.startswith("sg2dbt: error:")]
        assert len(lines) == 1 and "find Asset failed after 3 attempt(s): ProtocolError" in lines[0], err
        assert _duck_count(url_db, "raw.asset") == 0
        assert _duck_count(url_db, "raw.shot") == N
        mock_sg.delete("Shot", 8)   # the site moves on between runs
        code, _, err = _cli(*_load_args(schema_file, url_db, "raw"), env=_env(url))
    assert code == 0, err
    engine = sa.create_engine(url_db)
    assert_tables_match_site(engine, plan(schema), "raw", mock_sg)
    engine.dispose()


def test_database_connection_killed_mid_load_then_rerun_converges(
        mock_sg: Any, schema: Schema, schema_file: Path, pg_schema: str, pg_engine: sa.Engine,
        tmp_path: Path) -> None:
    app = f"sg2dbt_fault_{uuid.uuid4().hex[:8]}"
    db = f"{PG_URL}?application_name={app}"
    held = tmp_path / "held"
    site = StandInSite(mock_sg, script=SCRIPT, key=KEY)
    with serve(site) as url:
        proc = _cli(*_load_args(schema_file, db, pg_schema), wait=False,
                    env=hold_env(_env(url), 2, held))
        while not held.exists():
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        with pg_engine.begin() as conn:
            killed = conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity "
                                          "where application_name = :app"), {"app": app}).fetchall()
        assert killed
        held.unlink()   # let the loader go on, on a dead connection
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err
        assert "Traceback" not in err
        code, _, err = _cli(*_load_args(schema_file, PG_URL, pg_schema), env=_env(url))
    assert code == 0, err
    assert_tables_match_site(pg_engine, plan(schema), pg_schema, mock_sg)


def test_api_key_never_appears_in_any_output_or_file(mock_sg: Any, schema_file: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    site = StandInSite(mock_sg, script=SCRIPT, key=KEY)
    outputs = []
    with serve(site) as url:
        env = _env(url, HOME=str(work))
        db = f"duckdb:///{work / 'w.duckdb'}"
        runs = [
            ("-vv", *_load_args(schema_file, db, "raw")[:-1], "--json"),   # debug logs include request bodies
            ("-vv", "dump", "--schema", str(schema_file), "--only", "Shot", "--out", str(work / "dump")),
            ("-vv", "schema", "dump", "--out", str(work / "schema.json")),
        ]
        for args in runs:
            code, out, err = _cli(*args, env=env, cwd=work)
            assert code == 0, err
            outputs += [out, err]
        # the debug log of request bodies was exercised, and the key in it redacted
        assert any("Request body" in o and '"script_key": "***"' in o for o in outputs)
        # the same key from a file, and a wrong key: one clear error, no secret
        (work / "key.txt").write_text("not-the-key-" + KEY[::-1])
        code, out, err = _cli("load", "--schema", str(schema_file), "--only", "Shot", "--db", db,
                              "--raw-schema", "raw", "--api-key-file", str(work / "key.txt"),
                              env=_env(url, key=""), cwd=work)
    assert code == 2
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        f"sg2dbt: error: {url} (script {SCRIPT!r}): authentication failed (check the script name and key, "
        f"or login and password)"]
    outputs += [out, err]
    for text in outputs:
        assert KEY not in text and KEY[::-1] not in text
    files = [p for p in work.rglob("*") if p.is_file() and p.name != "key.txt"]
    assert {p.name for p in files} >= {"w.duckdb", "Shot.jsonl", "schema.json"}
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data and KEY[::-1].encode() not in data, path


def test_schema_dump_and_dump_then_load_from_dump_equal_the_site(
        mock_sg: Any, schema: Schema, real_schema_pickles: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from sg2dbt.cli import main

    def cli(*argv: str) -> None:
        try:
            main(list(argv))
        except SystemExit as exc:
            assert not exc.code, capsys.readouterr().err

    site = StandInSite(mock_sg, script=SCRIPT, key=KEY)
    with serve(site) as url:
        for name, value in _env(url).items():
            monkeypatch.setenv(name, value)
        cli("schema", "dump", "--out", str(tmp_path / "schema.json"))
        dumped_schema = sources.from_path(tmp_path / "schema.json")
        assert dumped_schema.entities == sources.from_mockgun_pickles(*real_schema_pickles).entities
        cli("dump", "--schema", str(tmp_path / "schema.json"), *(a for e in ENTITIES for a in ("--only", e)),
            "--out", str(tmp_path / "dump"), "--quiet")
    db = f"duckdb:///{tmp_path / 'w.duckdb'}"
    cli("load", "--schema", str(tmp_path / "schema.json"), *(a for e in ENTITIES for a in ("--only", e)),
        "--db", db, "--from-dump", str(tmp_path / "dump"), "--quiet")
    engine = sa.create_engine(db)
    assert_tables_match_site(engine, plan(schema), "shotgrid_raw", mock_sg)
    engine.dispose()
