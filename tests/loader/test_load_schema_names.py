"""Raw-schema names that collide with the database's own: MariaDB with ``--raw-schema`` equal to the URL's
database works (load, a second load, migrate, drift check); a DuckDB file named like the raw schema is refused
with one message saying what to change (DuckDB names the database after the file: ``raw.shot`` is ambiguous)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

Cli = Callable[..., tuple[int, str, str]]
AT = "2024-05-01T12:00:00+00:00"


def _dump(root: Path, code: str) -> Path:
    dump = root / "dump"
    dump.mkdir(exist_ok=True)
    (dump / "Shot.jsonl").write_text(json.dumps({"type": "Shot", "id": 1, "code": code,
                                                 "updated_at": "2024-05-01T10:00:00Z"}) + "\n", encoding="utf-8")
    (dump / "_manifest.json").write_text(json.dumps({"format": "sg2dbt-dump/1", "started_at": AT, "entities": {
        "Shot": {"started_at": AT, "live": 1, "retired": 0}}}), encoding="utf-8")
    return dump


def test_mariadb_raw_schema_equal_to_the_urls_database(cli: Cli, real_schema_path: Path, tmp_path: Path,
                                                       mariadb_database: tuple[sa.Engine, str]) -> None:
    engine, name = mariadb_database
    url = engine.url.render_as_string(hide_password=False)
    args = ("--schema", str(real_schema_path), "--only", "Shot", "--db", url, "--raw-schema", name)
    for code_value, mode in (("first", "full"), ("second", "incremental")):
        code, out, err = cli("load", *args, "--from-dump", str(_dump(tmp_path, code_value)), "--json")
        assert code == 0, err
        assert [e["mode"] for e in json.loads(out)["entities"]] == [mode]
    code, out, err = cli("migrate", *args)
    assert code == 0, err
    assert "already match" in out
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"select id, code from {name}.shot")).all() == [(1, "second")]


def test_duckdb_file_named_like_the_raw_schema_is_one_clear_error(cli: Cli, real_schema_path: Path,
                                                                   tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'shotgrid_raw.duckdb'}"
    for argv in (("load", "--schema", str(real_schema_path), "--only", "Shot", "--db", db,
                  "--from-dump", str(_dump(tmp_path, "x"))),
                 ("init-db", "--schema", str(real_schema_path), "--only", "Shot", "--db", db)):
        code, _, err = cli(*argv)
        assert code == 2
        assert [ln for ln in err.splitlines() if ln.strip()] == [
            "sg2dbt: error: the DuckDB file is named like the raw schema 'shotgrid_raw' (DuckDB names the database "
            "after the file, so shotgrid_raw.<table> is ambiguous): rename the file (e.g. "
            "shotgrid_raw_warehouse.duckdb) or choose another --raw-schema"], err
    code, _, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--db", db, "--raw-schema", "raw",
                       "--from-dump", str(_dump(tmp_path, "x")))
    assert code == 0, err
