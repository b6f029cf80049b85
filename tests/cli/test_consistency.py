"""One consistent CLI: --help lists commands without importing them, URL and driver errors name the fix,
--out never eats a user's file, errors name what the user typed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from sg2dbt.cli import COMMANDS, SUMMARIES, cli

CLI = Callable[..., tuple[int, str, str]]


def test_summaries_match_the_commands() -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        assert SUMMARIES.get(name) == cmd.get_short_help_str(limit=300), name


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_no_heavy_library(args: list[str]) -> None:
    code = ("import sys\nfrom sg2dbt.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'yaml', 'jinja2', 'dbt', 'rich', "
            "'shotgun_api3', 'duckdb', 'alembic'})\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out
    assert ("Commands:" in out and "init-db" in out) if args == ["--help"] else "sg2dbt, version" in out


@pytest.mark.parametrize(("url", "message"), [
    ("postgres://u@localhost/db", "write postgresql://... instead of postgres://"),
    ("nosuch://u@h/db", "no SQLAlchemy dialect 'nosuch' is installed; use postgresql://"),
    ("mysql://u@h/db", "pip install 'sg2dbt[mysql]'"),
    ("mssql+pyodbc://u@h/db", "no module 'pyodbc'"),
    ("not a url", "does not read as dialect[+driver]://"),
    ("postgresql://u:secret@h:port/db", "the port is not a number"),
])
def test_url_errors_name_the_fix(url: str, message: str, real_schema_path: Path, cli: CLI) -> None:
    code, _, err = cli("init-db", "--schema", str(real_schema_path), "--only", "Shot", "--db", url)
    assert code == 2 and message in err, err
    assert "secret" not in err and "Traceback" not in err


def test_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from sg2dbt.core.database import DatabaseURLError, create_engine

    monkeypatch.setitem(sys.modules, "psycopg", None)   # as if sg2dbt[postgres] were not installed
    with pytest.raises(DatabaseURLError, match=r"pip install 'sg2dbt\[postgres\]'"):
        create_engine("postgresql://u@localhost/db")


@pytest.mark.parametrize("command", ["orm", "ddl"])
def test_out_refuses_a_file_sg2dbt_did_not_write(command: str, real_schema_path: Path, tmp_path: Path,
                                                  cli: CLI) -> None:
    mine = tmp_path / "notes.txt"
    mine.write_text("my own notes\n", encoding="utf-8")
    args = (command, "--schema", str(real_schema_path), "--only", "Shot", "--out", str(mine))
    code, _, err = cli(*args)
    assert code == 2 and "sg2dbt did not write it" in err and "--force" in err
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    assert cli(*args, "--force")[0] == 0
    first = mine.read_text(encoding="utf-8")
    assert first != "my own notes\n"
    assert cli(*args)[0] == 0                        # its own output is refreshed without --force
    assert mine.read_text(encoding="utf-8") == first


def test_schema_dump_without_url_hints_at_the_url(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  real_schema_path: Path) -> None:
    for var in ("SG_URL", "SG2DBT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("schema", "dump", "--out", str(tmp_path / "s.json"))
    assert code == 2 and "no site URL: pass --url, set SG_URL, or set site.url in sg2dbt.yml" in err
    assert "--from-dump" not in err
    code, _, err = cli("load", "--schema", str(real_schema_path), "--only", "Shot", "--db", "sqlite://")
    assert code == 2 and "set site.url in sg2dbt.yml (or read a dump instead: --from-dump DIR)" in err, err


def test_pickle_without_its_entity_pickle_named_as_typed(real_schema_pickles: tuple[Path, Path], tmp_path: Path,
                                                          cli: CLI) -> None:
    lone = tmp_path / "site.pickle"
    shutil.copy(real_schema_pickles[0], lone)
    code, _, err = cli("ddl", "--schema", str(lone))
    assert code == 2 and err.count(str(lone)) == 1, err
    assert "site_entity.pickle is missing" in err and "--entity-schema" in err
    code, _, err = cli("ddl", "--schema", str(lone), "--entity-schema", str(real_schema_pickles[1]), "--only", "Shot")
    assert code == 0, err
