"""Property: every generated schema builds everything, or fails with one Sg2dbtError naming the offender.

Hypothesis generates seed-shape schema documents: entity and field names of arbitrary text (unicode,
punctuation, SQL and Python keywords, very long, empty), random data types (unknown ones too), valid_types
that are empty, dangling or hostile, and descriptions/display names of arbitrary text. Each generated
schema either gives ORM classes that store a row on SQLite, DDL that compiles for every dialect and runs on
SQLite, a standalone module that compiles and executes, and a dbt project whose YAML parses and whose model
SQL holds SG text only in literals and comments (models named by API or by display names), or raises an
:class:`Sg2dbtError` that names an entity or field of the document. A fixed, derandomized handful also goes
through a fresh interpreter and `dbt parse`.
"""

from __future__ import annotations

import json
import keyword
import os
import subprocess
import sys
import tempfile
import types
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from sg2dbt import SGORM, SchemaType
from sg2dbt.core.errors import Sg2dbtError
from sg2dbt.core.naming import RESERVED_WORDS
from sg2dbt.core.typemap import TYPE_MAP
from sg2dbt.emit.ddl import DIALECTS, create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.script import render_script
from tests.support.sqlcheck import code_only, foreign_jinja, layout_tables, run_script, tables

DESC = "DESCMARK"   # every description starts with it: it must never reach model SQL
DISP = "DISPMARK"   # every display name starts with it: model SQL may show it only in comments

MAX_EXAMPLES = int(os.environ.get("SG2DBT_PROPERTY_EXAMPLES", "150"))

# Unicode text without lone surrogates (JSON can carry them; sources.py maps them to U+FFFD in text and
# refuses them in names, which the corpus covers).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORDS = sorted(RESERVED_WORDS)[:: 7] + keyword.kwlist[::3] + ["metadata", "registry", "sa", "id", "ID", "Base",
                                                              "CLASSES", "_sg_retired", "__init__", "project_id", ""]
NAME = st.one_of(
    st.sampled_from(["Shot", "Project", "HumanUser", "CustomEntity01", "Asset", "Version", "Task"]),
    st.sampled_from(WORDS),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12),
    st.text("abcdefghij_", min_size=60, max_size=90),
)
# Mostly known types; an unknown one sometimes, an empty one (refused) rarely.
DATA_TYPES = st.sampled_from([*TYPE_MAP, "summary", "hologram", "Text", ""])


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    entity_names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    doc: dict[str, Any] = {}
    for entity in entity_names:
        fields: dict[str, Any] = {}
        for name in draw(st.lists(NAME, max_size=5, unique=True)):
            data_type = draw(DATA_TYPES)
            props: dict[str, Any] = {}
            if data_type in ("entity", "multi_entity", "addressing") or draw(st.booleans()):
                pool = st.one_of(st.sampled_from(entity_names), NAME)
                props["valid_types"] = {"value": draw(st.lists(pool, max_size=4))}
            if data_type in ("status_list", "list"):
                props["valid_values"] = {"value": draw(st.lists(TEXT, max_size=3))}
            if data_type == "summary":
                props["summary_default"] = {"value": draw(st.sampled_from(["sum", "record_count", "weird"]))}
            fields[name] = {"data_type": {"value": data_type}, "properties": props,
                            "name": {"value": DISP + draw(TEXT)}, "description": {"value": DESC + draw(TEXT)}}
        doc[entity] = {"name": {"value": DISP + draw(TEXT)}, "fields": fields}
    return doc


def names_in(doc: dict[str, Any]) -> set[str]:
    return set(doc) | {f for body in doc.values() for f in body["fields"]}


def build_orm(doc: dict[str, Any]) -> SGORM | None:
    """The ORM, or None after checking that the refusal names an entity or field of the document."""
    try:
        return SGORM(sg_schema_type=SchemaType.JSON_TEXT, sg_schema_source=json.dumps(doc))
    except Sg2dbtError as exc:
        assert any(repr(n) in str(exc) for n in names_in(doc)), str(exc)
        event(f"refused: {type(exc).__name__}")
        return None


def exec_module(source: str) -> types.ModuleType:
    """Execute the standalone module in a fresh namespace (registered: SQLAlchemy resolves annotations there)."""
    name = f"sgmodel_{uuid.uuid4().hex}"
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def check_project(doc: dict[str, Any], sg_orm: SGORM, out: Path, by_display: bool = False) -> bool:
    """Build the dbt project; False if the build refuses the schema (naming the offender)."""
    from sg2dbt.emit.project import ProjectOptions, build_project

    try:
        build_project(sg_orm.schema, out, ProjectOptions(db_path=out / "w.duckdb", name_by_display=by_display))
    except Sg2dbtError as exc:
        assert any(repr(n) in str(exc) for n in names_in(doc)), str(exc)
        event(f"dbt project refused: {type(exc).__name__}")
        return False
    for f in out.rglob("*.yml"):
        assert isinstance(yaml.safe_load(f.read_text(encoding="utf-8")), dict), f.name
    models = list(out.glob("models/**/*.sql"))
    assert len(models) >= len(sg_orm.classes)
    for f in models:
        sql = f.read_text(encoding="utf-8")
        assert DESC not in sql, f.name
        assert DISP not in code_only(sql), f.name
        assert foreign_jinja(sql) == [], f.name
    return True


@pytest.mark.slow
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(schemas(), st.booleans())
def test_generated_schema_builds_everything_or_names_the_offender(doc: dict[str, Any], by_display: bool) -> None:
    sg_orm = build_orm(doc)
    if sg_orm is None:
        return
    engine = sa.create_engine("sqlite://")
    sg_orm.Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all(cls(id=1) for cls in sg_orm.classes.values())
        session.commit()
    for dialect in DIALECTS:
        create_statements(build_metadata(sg_orm.layout, "raw"), dialect)
    ddl_engine = sa.create_engine("sqlite://")
    run_script(ddl_engine, create_statements(build_metadata(sg_orm.layout), "sqlite"))
    assert tables(ddl_engine, None) == layout_tables(sg_orm.layout)
    ddl_engine.dispose()
    module = exec_module(render_script(sg_orm.layout))
    assert set(module.CLASSES) == set(sg_orm.classes)
    module.Base.metadata.create_all(engine)
    with tempfile.TemporaryDirectory() as tmp:
        if check_project(doc, sg_orm, Path(tmp), by_display):
            event("built everything")


_FRESH_IMPORT = """
import sys, sqlalchemy as sa
sys.path.insert(0, sys.argv[1])
import sgmodel
sgmodel.Base.metadata.create_all(sa.create_engine("sqlite://"))
print(len(sgmodel.CLASSES))
"""


@pytest.mark.slow
@settings(max_examples=3, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(schemas())
def test_a_few_generated_schemas_import_fresh_and_pass_dbt_parse(doc: dict[str, Any]) -> None:
    """The slow end of the property, on three fixed (derandomized) schemas that build."""
    from dbt.cli.main import dbtRunner
    from dbt.jsonschemas import jsonschemas

    pytest.importorskip("sg2dbt.emit.project", reason="sg2dbt build has not landed")
    sg_orm = build_orm(doc)
    assume(sg_orm is not None)
    assert sg_orm is not None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "sgmodel.py").write_text(render_script(sg_orm.layout), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-c", _FRESH_IMPORT, str(out)], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        assert proc.returncode == 0, proc.stderr
        assert int(proc.stdout) == len(sg_orm.classes)
        project = out / "project"
        assume(check_project(doc, sg_orm, project))
        events: list[Any] = []
        with mock.patch.object(jsonschemas, "_JSONSCHEMA_SUPPORTED_ADAPTERS", {"duckdb", "postgres"}):
            result = dbtRunner(callbacks=[events.append]).invoke(
                ["parse", "--no-partial-parse", "--project-dir", str(project), "--profiles-dir", str(project)])
        assert result.success, result.exception
        bad = [(e.info.name, e.info.msg) for e in events
               if "Deprecat" in e.info.name or e.info.level in ("warn", "error")]
        assert bad == []
