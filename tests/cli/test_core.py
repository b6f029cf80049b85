"""``sg2dbt orm`` and ``sg2dbt ddl`` as a user runs them: files written, DDL printed, errors in one line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.modcheck import probe

SG2DBT = Path(sys.executable).parent / "sg2dbt"


def test_orm_writes_a_module_that_imports_fresh(real_schema_path: Path, tmp_path: Path,
                                                cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = cli("orm", "--schema", str(real_schema_path), "--out", str(tmp_path / "sgmodel.py"))
    assert code == 0, err
    assert "77 classes" in err
    report = probe(tmp_path, databases=False)
    assert len(report["classes"]) == 77


def test_orm_with_filters(real_schema_path: Path, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = cli("orm", "--schema", str(real_schema_path), "--out", str(tmp_path / "sgmodel.py"),
                       "--only", "Shot", "--only", "Project", "--ignore-field", "Shot.code")
    assert code == 0, err
    report = probe(tmp_path, databases=False)
    assert sorted(report["classes"]) == ["Project", "Shot"]
    assert "code" not in report["classes"]["Shot"]["columns"] and "name" in report["classes"]["Project"]["columns"]


@pytest.mark.parametrize("dialect", ["postgresql", "duckdb", "sqlite", "mysql", "mariadb"])
def test_ddl_prints_compiled_statements(real_schema_path: Path, cli: Callable[..., tuple[int, str, str]],
                                        dialect: str) -> None:
    code, out, err = cli("ddl", "--schema", str(real_schema_path), "--dialect", dialect)
    assert code == 0, err
    assert out.count("CREATE TABLE") == 77
    assert "CREATE TABLE IF NOT EXISTS" in out
    for word in ("AUTOINCREMENT", "AUTO_INCREMENT", "SERIAL", "IDENTITY", "REFERENCES"):
        assert word not in out, word


def test_ddl_output_runs_on_sqlite(real_schema_path: Path, tmp_path: Path,
                                   cli: Callable[..., tuple[int, str, str]]) -> None:
    out_file = tmp_path / "raw.sql"
    code, out, err = cli("ddl", "--schema", str(real_schema_path), "--dialect", "sqlite",
                         "--out", str(out_file))
    assert code == 0, err
    assert out == ""
    con = sqlite3.connect(tmp_path / "raw.db")
    con.executescript(out_file.read_text(encoding="utf-8"))
    assert con.execute("select count(*) from sqlite_master where type = 'table'").fetchone() == (77,)
    con.close()


def test_ddl_with_db_schema(real_schema_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("ddl", "--schema", str(real_schema_path), "--db-schema", "sg_raw")
    assert code == 0
    assert out.startswith("CREATE SCHEMA IF NOT EXISTS sg_raw;")


def test_ddl_reads_mockgun_pickles(real_schema_pickles: tuple[Path, Path],
                                   cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("ddl", "--schema", str(real_schema_pickles[0]), "--dialect", "duckdb")
    assert code == 0
    assert out.count("CREATE TABLE") == 77


def _bad_json(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    return path


def _no_data_type(tmp_path: Path) -> Path:
    path = tmp_path / "no_type.json"
    path.write_text(json.dumps({"Shot": {"code": {"name": {"value": "Code"}}}}), encoding="utf-8")
    return path


def _collision(tmp_path: Path) -> Path:
    path = tmp_path / "collide.json"
    path.write_text(json.dumps({"Shot": {"Foo": {"data_type": {"value": "text"}},
                                         "foo": {"data_type": {"value": "text"}}}}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "missing.json", "missing.json: schema file not found"),
        (_bad_json, "bad.json: invalid JSON at line 1"),
        (_no_data_type, "entity 'Shot', field 'code': field has no data_type"),
        (_collision, "fields 'Foo' and 'foo' both map to column 'foo'"),
    ],
    ids=["missing-file", "invalid-json", "no-data-type", "collision"],
)
@pytest.mark.parametrize("command", ["orm", "ddl"])
def test_errors_are_one_line_exit_2(tmp_path: Path, cli: Callable[..., tuple[int, str, str]],
                                    make: Callable[[Path], Path], expected: str, command: str) -> None:
    schema = make(tmp_path)
    out_args = ["--out", str(tmp_path / "sgmodel.py")] if command == "orm" else []
    code, out, err = cli(command, "--schema", str(schema), *out_args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("sg2dbt: error: ")
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "sgmodel.py").exists()     # nothing half-written


def test_unknown_dialect_is_a_usage_error(real_schema_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = cli("ddl", "--schema", str(real_schema_path), "--dialect", "oracle")
    assert code == 2
    assert "Invalid value for '--dialect'" in err and "Traceback" not in err


def test_console_script(real_schema_path: Path, tmp_path: Path) -> None:
    """The installed ``sg2dbt`` script: stdout carries the DDL, an error is one stderr line and exit 2."""
    ok = subprocess.run([str(SG2DBT), "ddl", "--schema", str(real_schema_path), "--dialect", "duckdb"],
                        capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("CREATE TABLE") == 77
    bad = subprocess.run([str(SG2DBT), "ddl", "--schema", str(tmp_path / "nope.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip() == f"sg2dbt: error: {tmp_path / 'nope.json'}: schema file not found"
