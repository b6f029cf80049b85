"""The standalone module (``create_script``): imports in a fresh interpreter and matches the ORM."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sg2dbt import SGORM, SchemaType
from sg2dbt.emit.script import render_script
from tests.support.modcheck import probe


@pytest.fixture(scope="module")
def real_orm(real_schema_path: Path) -> SGORM:
    return SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=real_schema_path)


@pytest.fixture(scope="module")
def real_module(real_orm: SGORM, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sgmodel")
    written = real_orm.create_script(out / "sgmodel.py")
    assert written == out / "sgmodel.py"
    return written, probe(out)


def test_real_module_imports_fresh_with_77_entity_classes(real_module: tuple[Path, dict[str, Any]]) -> None:
    _, report = real_module
    assert len(report["classes"]) == 77
    assert all(c["is_entity_class"] for c in report["classes"].values())
    assert report["classes"]["HumanUser"]["class"] == "HumanUser"
    assert report["classes"]["HumanUser"]["table"] == "human_user"
    assert not report["imports_sg2dbt"]        # standalone: SQLAlchemy only


def test_real_module_ids_are_never_autoincrement(real_module: tuple[Path, dict[str, Any]]) -> None:
    _, report = real_module
    for entity, cls in report["classes"].items():
        assert cls["pk"] == ["id"], entity
        assert cls["autoincrement"] == [False, False], entity
        assert cls["foreign_keys"] == 0, entity
    assert "autoincrement=False" in real_module[0].read_text(encoding="utf-8")


def test_real_module_creates_tables_on_sqlite_and_duckdb(real_module: tuple[Path, dict[str, Any]]) -> None:
    _, report = real_module
    for db in ("sqlite", "duckdb"):
        assert len(report["databases"][db]["tables"]) == 77, db
        assert set(report["databases"][db]["rows"].values()) == {1}, db


def test_module_matches_the_orm_column_for_column(real_orm: SGORM,
                                                  real_module: tuple[Path, dict[str, Any]]) -> None:
    _, report = real_module
    for entity, cls in real_orm.classes.items():
        tbl = cls.__table__
        generated = report["classes"][entity]
        assert generated["table"] == tbl.name
        assert {n: c["attr"] for n, c in generated["columns"].items()} == \
            {c.name: attr for attr, c in cls.__mapper__.columns.items()}
        assert {n: c["doc"] for n, c in generated["columns"].items()} == {c.name: c.doc for c in tbl.columns}


_RENDER = """
import sys
from sg2dbt import SGORM, SchemaType
from sg2dbt.emit.script import render_script
sys.stdout.write(render_script(SGORM(sg_schema_type=SchemaType.JSON_FILE, sg_schema_source=sys.argv[1]).layout))
"""


def test_module_is_deterministic_and_valid_python(real_orm: SGORM, real_schema_path: Path) -> None:
    """Rendered again by another interpreter with another string-hash seed: set or dict order leaking into the
    output would differ there (a second render in this process could not show it)."""
    first = render_script(real_orm.layout)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONIOENCODING": "utf-8"}
    second = subprocess.run([sys.executable, "-c", _RENDER, str(real_schema_path)], capture_output=True,
                            encoding="utf-8", env=env, timeout=120, check=True).stdout
    assert first == second
    tree = ast.parse(first)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes[:2] == ["Base", "SgDate"] and len(classes) == 79   # Base, the date type, 77 entities
