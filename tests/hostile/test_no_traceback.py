"""Never a traceback (issue #11): each hostile input ends in one clear line and, for ``load --json``, a summary.

Each case is something a user or a site can hand the loader: malformed lines in incremental and retired passes,
retired files with ids of the wrong type, non-UTF-8 and very deeply nested dump files, extreme datetimes and
``--overlap`` values, an unreachable or missing database for ``migrate``, a site answering HTML with status 200,
lone surrogates in a site's text during ``dump``, a connection dropped during the pre-load checks, and
``demo --dir`` under a file. Every run goes through ``sg2dbt.cli.main`` (the console script's entry point; any
exception but SystemExit fails the test, as a user would have seen a traceback) and must end with:

* exit status 2 and exactly one ``sg2dbt: error:`` line on stderr naming the file/line, entity, id or field;
* for ``load --json``: a JSON summary on stdout of the usual shape, the failing entity's error naming the
  record, and the other entity (Asset) loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

Cli = Callable[..., tuple[int, str, str]]
SUMMARY_KEYS = {"source", "started_at", "seconds", "rows", "failed", "entities"}
ENTITY_KEYS = {"entity", "table", "mode", "rows", "retired", "revived", "deleted", "rows_live", "rows_retired",
               "seconds", "error"}
AT = "2024-05-01T12:00:00+00:00"


def rec(entity: str, rid: Any, updated: str = "2024-05-01T10:00:00Z", **more: Any) -> dict[str, Any]:
    return {"type": entity, "id": rid, "code": f"{entity}-{rid}", "updated_at": updated, **more}


class Dump:
    """A dump directory of Shot and Asset (2 records each) with its manifest, rewritten per step."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "dump"
        self.dir.mkdir()

    def write(self, shot_live: list[str] | None = None, shot_retired: list[str] | None = None,
              raw: bytes | None = None, manifest: bool = True) -> None:
        lives = {"Shot": shot_live if shot_live is not None else [json.dumps(rec("Shot", i)) for i in (1, 2)],
                 "Asset": [json.dumps(rec("Asset", i)) for i in (1, 2)]}
        retired = {"Shot": shot_retired or [], "Asset": []}
        for entity in ("Shot", "Asset"):
            (self.dir / f"{entity}.jsonl").write_text("".join(ln + "\n" for ln in lives[entity]), encoding="utf-8")
            (self.dir / f"{entity}.retired.jsonl").write_text("".join(ln + "\n" for ln in retired[entity]),
                                                             encoding="utf-8")
        if raw is not None:
            (self.dir / "Shot.jsonl").write_bytes(raw)
        doc = {"format": "sg2dbt-dump/1", "started_at": AT, "entities": {
            e: {"started_at": AT, "live": len(lives[e]), "retired": len(retired[e])} for e in lives}}
        path = self.dir / "_manifest.json"
        if manifest:
            path.write_text(json.dumps(doc), encoding="utf-8")
        elif path.exists():
            path.unlink()


def _load(cli: Cli, schema: Path, db: str, dump: Dump, *extra: str) -> tuple[int, str, str]:
    return cli("load", "--schema", str(schema), "--only", "Shot", "--only", "Asset", "--db", db,
               "--from-dump", str(dump.dir), "--json", "--quiet", *extra)


def _one_error_line(code: int, err: str, *expected: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("sg2dbt: error: "), err
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def _summary_names(out: str, entity: str, *expected: str) -> None:
    summary = json.loads(out)
    assert set(summary) == SUMMARY_KEYS
    assert summary["failed"] == 1
    by_entity = {e["entity"]: e for e in summary["entities"]}
    assert all(set(e) == ENTITY_KEYS for e in summary["entities"])
    assert by_entity["Asset"]["error"] is None and by_entity["Asset"]["rows_live"] == 2
    for text in expected:
        assert text in by_entity[entity]["error"], (text, by_entity[entity]["error"])


def _failed_summary(out: str, *expected: str) -> None:
    """The summary of a run that failed before any entity loaded: no entities, and the error."""
    summary = json.loads(out)
    assert set(summary) == SUMMARY_KEYS | {"error"} and summary["entities"] == [] and summary["failed"] >= 1
    for text in expected:
        assert text in summary["error"], (text, summary["error"])


def _shot_ids(db: str) -> list[int]:
    engine = sa.create_engine(db)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("select id from shotgrid_raw.shot order by id")).scalars())
    finally:
        engine.dispose()


TRUNCATED = '{"type": "Shot", "id": 2, "code": "x'
DEEP = '{"type": "Shot", "id": 2, "code": ' + "[" * 200_000 + "]" * 200_000 + "}"

# (name, Shot's live lines, Shot's retired lines, raw bytes of Shot.jsonl, what the error names)
BAD_DUMPS = [
    ("malformed live line", [json.dumps(rec("Shot", 1)), TRUNCATED], None, None, ["Shot.jsonl: line 2: invalid JSON"]),
    ("malformed retired line", None, [TRUNCATED], None, ["Shot.retired.jsonl: line 1: invalid JSON"]),
    ("retired id as a string", None, [json.dumps(rec("Shot", "7"))], None, ["entity 'Shot'", "'7'", "'id'"]),
    ("retired id a boolean", None, [json.dumps(rec("Shot", True))], None, ["entity 'Shot'", "True", "'id'"]),
    ("retired id a float", None, [json.dumps(rec("Shot", 7.5))], None, ["entity 'Shot'", "7.5", "'id'"]),
    ("retired id null", None, [json.dumps(rec("Shot", None))], None, ["entity 'Shot'", "None", "'id'"]),
    ("retired id past 64 bits", None, [json.dumps(rec("Shot", 2**70))], None, ["entity 'Shot'", "'id'"]),
    ("retired record not an object", None, ["[7]"], None, ["entity 'Shot'", "not a mapping"]),
    ("live ids of mixed types", [json.dumps(rec("Shot", 1)), json.dumps(rec("Shot", "2"))], None, None,
     ["entity 'Shot'", "'2'", "'id'"]),
    ("not UTF-8", None, None, b'{"type": "Shot", "id": 1, "code": "\xff\xfe"}\n', ["Shot.jsonl", "not UTF-8"]),
    ("nested 200,000 deep", [json.dumps(rec("Shot", 1)), DEEP], None, None, ["Shot.jsonl: line 2", "nested"]),
    ("updated_at past year 9999", [json.dumps(rec("Shot", 1)), json.dumps(rec("Shot", 2, "10000-01-01T00:00:00Z"))],
     None, None, ["entity 'Shot', id 2, field 'updated_at'"]),
]


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
@pytest.mark.parametrize(("name", "live", "retired", "raw", "names"), BAD_DUMPS, ids=[c[0] for c in BAD_DUMPS])
def test_a_damaged_dump_fails_its_entity_in_one_line_and_the_summary(
        cli: Cli, real_schema_path: Path, tmp_path: Path, name: str, live: list[str] | None,
        retired: list[str] | None, raw: bytes | None, names: list[str], incremental: bool) -> None:
    db = f"duckdb:///{tmp_path / 'w.duckdb'}"
    dump = Dump(tmp_path)
    if incremental:
        dump.write()
        code, _, err = _load(cli, real_schema_path, db, dump)
        assert code == 0, err
    dump.write(live, retired, raw)
    code, out, err = _load(cli, real_schema_path, db, dump)
    line = _one_error_line(code, err, *names)
    assert "1 of 2 entities failed" in line
    _summary_names(out, "Shot", *names)
    # the failing entity kept its last good state
    assert _shot_ids(db) == ([1, 2] if incremental else [])


@pytest.mark.parametrize("updated", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_extreme_datetimes_and_overlaps_load(cli: Cli, real_schema_path: Path, tmp_path: Path,
                                             updated: str) -> None:
    db = f"duckdb:///{tmp_path / 'w.duckdb'}"
    dump = Dump(tmp_path)
    dump.write([json.dumps(rec("Shot", 1, updated)), json.dumps(rec("Shot", 2))])
    for overlap in ("0", str(100 * 365 * 86400), "300"):
        code, out, err = _load(cli, real_schema_path, db, dump, "--overlap", overlap)
        assert code == 0, err
        assert json.loads(out)["failed"] == 0
    assert _shot_ids(db) == [1, 2]
    code, _, err = _load(cli, real_schema_path, db, dump, "--overlap", str(100 * 365 * 86400 + 1))
    assert code == 2 and "Traceback" not in err and "--overlap" in err


@pytest.mark.parametrize("db", ["postgresql+psycopg://postgres@127.0.0.1:1/nowhere", "sqlite:///{tmp}/no/such/dir/x.db",
                                "postgresql+psycopg://postgres@127.0.0.1:5432/sg2dbt_no_such_database"],
                         ids=["unreachable", "missing directory", "missing database"])
def test_migrate_without_a_database_is_one_line(cli: Cli, real_schema_path: Path, tmp_path: Path, db: str) -> None:
    code, _, err = cli("migrate", "--schema", str(real_schema_path), "--only", "Shot",
                       "--db", db.format(tmp=tmp_path))
    _one_error_line(code, err, "cannot migrate the raw tables in")


def test_demo_dir_under_a_file_is_one_line(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory", encoding="utf-8")
    code, _, err = cli("demo", "--dir", str(tmp_path / "file" / "demo"))
    _one_error_line(code, err, str(tmp_path / "file"))


# --- a live site over HTTP (the real shotgun_api3 against tests/support/sgserver.py) ------------------------

SCRIPT, KEY = "etl", "sg2dbt-test-key-0451"


@pytest.fixture
def mock_sg(real_schema_pickles: tuple[Path, Path], real_schema_path: Path) -> Any:
    from shotgun_api3.lib.mockgun import Shotgun

    from sg2dbt.schema import sources
    from tests.support.sgsite import seed_mockgun

    Shotgun.set_schema_paths(*(str(p) for p in real_schema_pickles))
    sg = Shotgun("https://mock.example.com", "x", "y")
    schema = sources.from_mockgun_pickles(*real_schema_pickles).filtered(only=["Shot", "Asset"])
    for entity in ("Shot", "Asset"):
        seed_mockgun(sg, schema, entity, range(1, 4))
    return sg


@pytest.fixture
def site_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def use(url: str) -> None:
        for name, value in {"SG_URL": url, "SG_SCRIPT": SCRIPT, "SG_API_KEY": KEY, "SG_TIMEOUT_SECS": "2"}.items():
            monkeypatch.setenv(name, value)
    return use


def test_a_site_answering_html_with_status_200_is_one_line(cli: Cli, mock_sg: Any, site_env: Callable[[str], None],
                                                           real_schema_path: Path, tmp_path: Path) -> None:
    from tests.support.sgserver import StandInSite, serve

    with serve(StandInSite(mock_sg, script=SCRIPT, key=KEY, html=True)) as url:
        site_env(url)
        for argv in (["schema", "dump", "--out", str(tmp_path / "s.json")],
                     ["load", "--schema", str(real_schema_path), "--only", "Shot", "--db",
                      f"duckdb:///{tmp_path / 'w.duckdb'}", "--retries", "1", "--json"],
                     ["dump", "--schema", str(real_schema_path), "--only", "Shot", "--out", str(tmp_path / "d"),
                      "--retries", "1"]):
            code, out, err = cli(*argv)
            _one_error_line(code, err, url, "HTML")
            if "--json" in argv:
                _failed_summary(out, "HTML")
    assert not (tmp_path / "s.json").exists()


def test_lone_surrogates_from_a_site_dump_faithfully_then_load_refuses_naming_the_field(
        cli: Cli, mock_sg: Any, site_env: Callable[[str], None], real_schema_path: Path, tmp_path: Path) -> None:
    from tests.support.sgserver import StandInSite, serve

    mock_sg.update("Shot", 2, {"code": "half a pair: \ud83d"})
    with serve(StandInSite(mock_sg, script=SCRIPT, key=KEY)) as url:
        site_env(url)
        code, _, err = cli("dump", "--schema", str(real_schema_path), "--only", "Shot", "--only", "Asset",
                           "--out", str(tmp_path / "d"), "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "Asset.jsonl", "Asset.retired.jsonl", "Shot.jsonl", "Shot.retired.jsonl", "_manifest.json"]
    assert "\\ud83d" in (tmp_path / "d" / "Shot.jsonl").read_text(encoding="utf-8")
    code, out, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--only", "Asset",
                         "--db", f"duckdb:///{tmp_path / 'w.duckdb'}", "--from-dump", str(tmp_path / "d"), "--json")
    names = ["entity 'Shot', id 2, field 'code'", "surrogate"]
    _one_error_line(code, err, *names)
    summary = json.loads(out)
    assert {e["entity"]: e["rows_live"] for e in summary["entities"]} == {"Asset": 3, "Shot": 0}
    assert all(n in next(e["error"] for e in summary["entities"] if e["entity"] == "Shot") for n in names)


def test_a_site_connection_dropped_during_the_pre_load_check_is_one_line(
        cli: Cli, mock_sg: Any, site_env: Callable[[str], None], real_schema_path: Path, tmp_path: Path) -> None:
    from tests.support.sgserver import StandInSite, serve

    with serve(StandInSite(mock_sg, script=SCRIPT, key=KEY, faults={1: "drop", 2: "drop", 3: "drop"})) as url:
        # read 1 is the check (shotgun_api3 itself tries each call three times)
        site_env(url)
        code, out, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--db",
                           f"duckdb:///{tmp_path / 'w.duckdb'}", "--retries", "1", "--json")
    _one_error_line(code, err, url, "Shot")
    _failed_summary(out, "find Shot failed")


@pytest.mark.postgres
def test_a_database_connection_dropped_during_the_pre_load_checks_is_one_line(
        cli: Cli, real_schema_path: Path, tmp_path: Path, pg_engine: sa.Engine, pg_schema: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift check runs after the tables exist and before any row moves; the server drops every
    connection of this loader just then."""
    import uuid

    from sg2dbt.evolve import migrate
    from tests.conftest import PG_URL

    app = f"sg2dbt_drop_{uuid.uuid4().hex[:8]}"
    original = migrate.require_no_drift

    def dropped_then_check(*args: Any) -> None:
        with pg_engine.begin() as conn:
            assert conn.execute(sa.text("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                                        "where application_name = :app"), {"app": app}).scalar()
        original(*args)

    monkeypatch.setattr(migrate, "require_no_drift", dropped_then_check)
    dump = Dump(tmp_path)
    dump.write()
    code, out, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--only", "Asset",
                         "--db", f"{PG_URL}?application_name={app}", "--raw-schema", pg_schema,
                         "--from-dump", str(dump.dir), "--json")
    _one_error_line(code, err, "database error: AdminShutdown: terminating connection")
    _failed_summary(out, "database error: AdminShutdown: terminating connection")
