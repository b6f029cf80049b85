"""The corpus of bad and hostile schemas (tests/hostile/corpus/, outcomes in tests/hostile/corpus/cases.yaml).

Every case either builds everything a user builds from a schema (ORM classes, DDL for every dialect that
runs on SQLite, DuckDB and PostgreSQL, a standalone module that imports in a fresh interpreter, and the
dbt project once ``sg2dbt build`` exists), or fails with one :class:`~sg2dbt.core.errors.Sg2dbtError` whose
message names the offender, both in Python and on the command line (one line on stderr, exit 2).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from sg2dbt import SGORM, SchemaType
from sg2dbt.cli import main
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.emit.ddl import DIALECTS, create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.script import write_script
from tests.support.sqlcheck import code_only, foreign_jinja, layout_tables, run_script, tables

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
OK = sorted(n for n, c in CASES.items() if c["outcome"] == "ok")
ERROR = sorted(n for n, c in CASES.items() if c["outcome"] == "error")
SG2DBT = Path(sys.executable).with_name("sg2dbt")


def case_path(name: str) -> Path:
    return CORPUS / f"{name}.json"


def test_index_lists_every_file() -> None:
    assert {p.stem for p in CORPUS.glob("*.json")} == set(CASES)
    assert all(c["outcome"] in ("ok", "error") for c in CASES.values())
    assert all(c.get("names") for c in CASES.values() if c["outcome"] == "error")


@pytest.mark.parametrize("name", ERROR)
def test_bad_schema_fails_with_one_error_naming_the_offender(name: str) -> None:
    with pytest.raises(Sg2dbtError) as info:
        SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(case_path(name)))
    for needle in CASES[name]["names"]:
        assert needle in str(info.value)


@pytest.mark.parametrize("name", ERROR)
def test_cli_prints_one_line_and_exits_2(name: str, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    out = tmp_path / "model.py"
    status, _, err = cli("orm", "--schema", str(case_path(name)), "--out", str(out))
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sg2dbt: error: ")
    for needle in CASES[name]["names"]:
        assert needle in lines[0]
    assert not out.exists(), "nothing half-written"


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux's /proc")
def test_unreadable_file_is_one_error(cli: Callable[..., tuple[int, str, str]]) -> None:
    """/proc/self/mem is a regular file that cannot be read like one (permissions are moot as root)."""
    status, _, err = cli("ddl", "--schema", "/proc/self/mem")
    assert status == 2 and err.startswith("sg2dbt: error: /proc/self/mem: cannot read the file"), err


@pytest.mark.parametrize("command", ["ddl", "orm"])
def test_unwritable_output_is_one_error(command: str, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("", encoding="utf-8")
    out = blocker / "out.txt"
    status, _, err = cli(command, "--schema", str(case_path("no_name")), "--out", str(out))
    assert status == 2 and err.startswith(f"sg2dbt: error: {out}: cannot write"), err
    assert err.count("\n") == 1


@pytest.mark.parametrize("name", ["deep_nesting", "collide_entities"])
def test_console_script_shows_no_traceback(name: str) -> None:
    proc = subprocess.run([str(SG2DBT), "ddl", "--schema", str(case_path(name))], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and all(n in proc.stderr for n in CASES[name]["names"])


@pytest.fixture(scope="module")
def orms() -> dict[str, SGORM]:
    return {name: SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=str(case_path(name)))
            for name in OK}


@pytest.mark.parametrize("name", OK)
def test_orm_classes_round_trip_a_row_on_sqlite(name: str, orms: dict[str, SGORM]) -> None:
    sg_orm = orms[name]
    assert set(sg_orm.classes) == set(sg_orm.schema.entities)
    engine = sa.create_engine("sqlite://")
    sg_orm.Base.metadata.create_all(engine)
    assert set(sa.inspect(engine).get_table_names()) == set(layout_tables(sg_orm.layout))
    with Session(engine) as session:
        session.add_all(cls(id=7) for cls in sg_orm.classes.values())
        session.commit()
        for entity, cls in sg_orm.classes.items():
            assert session.get(cls, 7) is not None, entity


@pytest.mark.parametrize("name", OK)
def test_ddl_compiles_for_every_dialect(name: str, orms: dict[str, SGORM]) -> None:
    md = build_metadata(orms[name].layout, "raw")
    for dialect in DIALECTS:
        text = create_statements(md, dialect)
        assert text.count("CREATE TABLE") == len(orms[name].layout.tables), dialect


@pytest.mark.parametrize("name", OK)
def test_ddl_runs_on_sqlite_and_duckdb(name: str, orms: dict[str, SGORM], tmp_path: Path) -> None:
    layout = orms[name].layout
    for dialect, url, schema in (("sqlite", f"sqlite:///{tmp_path / 'raw.db'}", None),
                                 ("duckdb", f"duckdb:///{tmp_path / 'warehouse.duckdb'}", "raw")):
        engine = sa.create_engine(url)
        run_script(engine, create_statements(build_metadata(layout, schema), dialect))
        assert tables(engine, schema) == layout_tables(layout), dialect
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("name", OK)
def test_ddl_runs_on_postgresql(name: str, orms: dict[str, SGORM], pg_engine: sa.Engine,
                                pg_schema: str) -> None:
    layout = orms[name].layout
    run_script(pg_engine, create_statements(build_metadata(layout, pg_schema), "postgresql"))
    assert tables(pg_engine, pg_schema) == layout_tables(layout)


_IMPORT_CHECK = """
import json, sys, traceback
import sqlalchemy as sa
from sqlalchemy.orm import Session
results = {}
for case, folder in json.loads(sys.argv[1]).items():
    sys.path.insert(0, folder)
    try:
        import sgmodel as mod
        engine = sa.create_engine("sqlite://")
        mod.Base.metadata.create_all(engine)
        with Session(engine) as s:
            s.add_all(cls(id=7) for cls in mod.CLASSES.values())
            s.commit()
            found = {e: s.get(cls, 7) is not None for e, cls in mod.CLASSES.items()}
        results[case] = {"classes": {e: c.__tablename__ for e, c in mod.CLASSES.items()},
                         "tables": sorted(sa.inspect(engine).get_table_names()), "found": found}
    except Exception:
        results[case] = {"error": traceback.format_exc()}
    finally:
        sys.path.remove(folder)
        sys.modules.pop("sgmodel", None)
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def standalone(orms: dict[str, SGORM], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every OK case's standalone module, imported by ONE fresh interpreter (one process, not one per case)."""
    folders = {}
    for name in OK:
        folder = tmp_path_factory.mktemp(name)
        source = write_script(orms[name].layout, folder / "sgmodel.py").read_text(encoding="utf-8")
        compile(source, name, "exec")
        folders[name] = str(folder)
    proc = subprocess.run([sys.executable, "-c", _IMPORT_CHECK, json.dumps(folders)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", OK)
def test_standalone_module_imports_in_a_fresh_interpreter(name: str, orms: dict[str, SGORM],
                                                          standalone: dict[str, Any]) -> None:
    got = standalone[name]
    assert "error" not in got, got.get("error")
    assert got["classes"] == {t.entity.name: t.name for t in orms[name].layout}
    assert set(got["tables"]) == set(layout_tables(orms[name].layout))
    assert all(got["found"].values())


@pytest.mark.parametrize("name", OK)
def test_cli_ddl_succeeds(name: str, orms: dict[str, SGORM], cli: Callable[..., tuple[int, str, str]]) -> None:
    status, out, err = cli("ddl", "--schema", str(case_path(name)), "--dialect", "sqlite")
    assert status == 0, err
    engine = sa.create_engine("sqlite://")
    run_script(engine, out)
    assert tables(engine, None) == layout_tables(orms[name].layout)


# --- the dbt project (sg2dbt build) ------------------------------------------------------------------

def source_name(name: str) -> str:
    """Each case gets its own dbt source name, so all cases' models can share one project for `dbt parse`."""
    return f"c{OK.index(name):02d}"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every OK case built through the CLI (``sg2dbt build``), one project directory each."""
    pytest.importorskip("sg2dbt.emit.project", reason="sg2dbt build has not landed")
    out: dict[str, Path] = {}
    for name in OK:
        folder = tmp_path_factory.mktemp(f"dbt_{name}")
        with pytest.raises(SystemExit) as info:
            main(["build", "--schema", str(case_path(name)), "--out", str(folder),
                  "--source-name", source_name(name), "--db-path", str(folder / "w.duckdb")])
            raise SystemExit(0)
        assert info.value.code in (0, None), f"{name}: sg2dbt build exited {info.value.code}"
        out[name] = folder
    return out


@pytest.mark.parametrize("name", OK)
def test_dbt_project_yaml_parses(name: str, projects: dict[str, Path]) -> None:
    files = sorted(projects[name].rglob("*.yml"))
    assert any(f.name == "dbt_project.yml" for f in files)
    for f in files:
        assert isinstance(yaml.safe_load(f.read_text(encoding="utf-8")), dict), f


@pytest.mark.parametrize("name", OK)
def test_dbt_models_hold_sg_text_only_in_literals_and_comments(name: str, projects: dict[str, Path]) -> None:
    """Model SQL is rendered by dbt's Jinja and run by a database: SG text must be neither Jinja nor SQL."""
    for f in projects[name].glob("models/**/*.sql"):
        sql = f.read_text(encoding="utf-8")
        assert foreign_jinja(sql) == [], f.name
        assert "drop table" not in code_only(sql).lower(), f.name  # every corpus injection tries to drop x


@pytest.fixture(scope="module")
def combined_parse(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Any]]:
    """ONE `dbt parse` over the models of every OK case (one project, one source per case): dbt runs are slow."""
    from dbt.cli.main import dbtRunner
    from dbt.jsonschemas import jsonschemas

    root = tmp_path_factory.mktemp("dbt_all")
    first = projects[OK[0]]
    for item in ("dbt_project.yml", "profiles.yml", "macros"):
        src = first / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / item)
    for name, folder in projects.items():
        shutil.copytree(folder / "models" / "staging" / source_name(name),
                        root / "models" / "staging" / source_name(name))
    events: list[Any] = []
    # dbt skips its YAML JSON-schema checks on duckdb and postgres; switch them on to see every deprecation
    with mock.patch.object(jsonschemas, "_JSONSCHEMA_SUPPORTED_ADAPTERS", {"duckdb", "postgres"}):
        result = dbtRunner(callbacks=[events.append]).invoke(
            ["parse", "--no-partial-parse", "--project-dir", str(root), "--profiles-dir", str(root)])
    return result, events


@pytest.mark.slow
def test_dbt_parse_of_every_ok_case_succeeds_without_warnings(projects: dict[str, Path],
                                                              combined_parse: tuple[Any, list[Any]]) -> None:
    result, events = combined_parse
    assert result.success, result.exception
    bad = [(e.info.name, e.info.msg) for e in events if "Deprecat" in e.info.name or e.info.level in ("warn", "error")]
    assert bad == []
    models = {n.name for n in result.result.nodes.values() if n.resource_type == "model"}
    expected = {f.stem for folder in projects.values() for f in folder.glob("models/**/*.sql")}
    assert models == expected
