"""The generated project compiled for warehouses these machines cannot run (Snowflake, BigQuery, Redshift, Trino)
and for the ones they can (PostgreSQL, DuckDB, Spark, with Databricks inheriting Spark).

Each model and the macros are rendered as dbt renders them for that adapter: ``adapter.dispatch`` picks
``<adapter>__name`` (Databricks falls back to ``spark__``, every adapter to ``default__``), ``adapter.quote``
quotes as the adapter does, ``return()`` ends a macro. Then every CAST's target type must be a type name
the warehouse documents (its data-type reference page, the lists below), reserved words must be quoted
the warehouse's way, and the SQL must parse in the warehouse's sqlglot dialect. ``text``,
``double precision`` or ``timestamp with time zone`` on Spark, BigQuery or Trino fail here; so does a bare
``varchar``/``text`` on Redshift (VARCHAR(256): long SG text would not fit).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
import sqlglot
from sqlglot import exp

from sg2dbt.core.model import Entity, Field, Schema
from sg2dbt.core.typemap import TYPE_MAP
from sg2dbt.emit.project import ProjectOptions, build_project

# Type names from each warehouse's data-type reference (lower case; aliases included).
DOCUMENTED: dict[str, set[str]] = {
    "postgres": {"text", "bigint", "integer", "double precision", "boolean", "date", "timestamp with time zone",
                 "varchar", "numeric", "jsonb", "json"},
    "duckdb": {"text", "varchar", "bigint", "integer", "double", "boolean", "date", "timestamp with time zone",
               "timestamptz", "json"},
    "spark": {"string", "bigint", "long", "int", "integer", "double", "boolean", "date", "timestamp",
              "timestamp_ltz", "timestamp_ntz", "decimal"},
    "snowflake": {"varchar", "string", "text", "number", "bigint", "integer", "int", "double", "float", "boolean",
                  "date", "timestamp_tz", "timestamp_ltz", "timestamp_ntz", "variant"},
    "bigquery": {"string", "int64", "int", "integer", "bigint", "float64", "bool", "date", "timestamp", "numeric",
                 "json"},
    "redshift": {"varchar(65535)", "bigint", "integer", "int", "double precision", "float8", "boolean", "date",
                 "timestamptz", "super"},
    "trino": {"varchar", "bigint", "integer", "double", "boolean", "date", "timestamp(6) with time zone", "json"},
}
DOCUMENTED["databricks"] = DOCUMENTED["spark"]
PARENT = {"databricks": "spark"}                          # dbt adapter inheritance (dbt-databricks -> spark)
BACKTICK = {"spark", "databricks", "bigquery"}            # everyone else quotes identifiers with "
DIALECT = {"postgres": "postgres", "duckdb": "duckdb", "spark": "spark", "databricks": "databricks",
           "snowflake": "snowflake", "bigquery": "bigquery", "redshift": "redshift", "trino": "trino"}


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def _returning(macro: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return macro(*args, **kwargs)
        except _Return as r:
            return r.value
    return call


class Adapter:
    def __init__(self, env: jinja2.Environment, name: str) -> None:
        self.env, self.name = env, name

    def dispatch(self, macro_name: str, macro_namespace: str) -> Any:
        assert macro_namespace == "sg2dbt"
        for prefix in (self.name, PARENT.get(self.name), "default"):
            found = self.env.globals.get(f"{prefix}__{macro_name}")
            if prefix and found is not None:
                return found
        raise AssertionError(f"no implementation of {macro_name} for {self.name}")

    def quote(self, name: str) -> str:
        return f"`{name}`" if self.name in BACKTICK else f'"{name}"'


def render_for(project: Path, adapter: str) -> dict[str, str]:
    """Every model of ``project`` as compiled SQL for ``adapter``."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"])
    a = Adapter(env, adapter)

    def _raise(value: Any) -> None:
        raise _Return(value)

    env.globals.update(adapter=a, target={"type": adapter}, execute=False,
                       source=lambda s, t: f"{a.quote('shotgrid_raw')}.{a.quote(t)}")
    env.globals["return"] = _raise
    for path in sorted((project / "macros").glob("*.sql")):
        if "{% test " in path.read_text():
            continue  # a generic test (dbt's own `test` block), not called by models
        module = env.from_string(path.read_text()).module
        for name in dir(module):
            if not name.startswith("_"):
                env.globals[name] = _returning(getattr(module, name))
    return {p.stem: env.from_string(p.read_text()).render()
            for p in sorted((project / "models").rglob("*.sql"))}


def _casts(sql: str) -> list[str]:
    """The target type of every ``cast(... as TYPE)``, as written."""
    out, i = [], 0
    while (i := sql.lower().find("cast(", i)) >= 0:
        depth, j, last_as = 0, i + 4, -1
        while True:
            ch = sql[j]
            depth += ch == "("
            depth -= ch == ")"
            if depth == 1 and sql[j:j + 4].lower() == " as ":
                last_as = j
            if depth == 0:
                break
            j += 1
        out.append(" ".join(sql[last_as + 4:j].split()).lower())
        i += 5
    return out


def _schema() -> Schema:
    """Every SG data type the type map knows, a reserved-word column, polymorphic and multi-entity links."""
    def f(entity: str, name: str, data_type: str, **kw: Any) -> Field:
        return Field(entity=entity, name=name, data_type=data_type, **kw)

    shot = [f("Shot", "id", "number"), f("Shot", "user", "text"),
            f("Shot", "entity", "entity", valid_types=("Asset", "Shot")),
            f("Shot", "sequence", "entity", valid_types=("Sequence",)),
            f("Shot", "assets", "multi_entity", valid_types=("Asset",)),
            f("Shot", "sg_status_list", "status_list", valid_values=("ip", "fin"))]
    shot += [f("Shot", f"f_{t}", t) for t in sorted(TYPE_MAP) if t not in ("entity", "multi_entity")]
    return Schema.of([Entity.of("Shot", "Shot", shot), Entity.of("Asset", "Asset", [f("Asset", "id", "number")]),
                      Entity.of("Sequence", "Sequence", [f("Sequence", "id", "number")])])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("warehouses") / "project"
    build_project(_schema(), out, ProjectOptions())
    return out


@pytest.mark.parametrize("adapter", sorted(DIALECT))
def test_models_compile_to_the_warehouses_own_types_and_quoting(project: Path, adapter: str) -> None:
    models = render_for(project, adapter)
    assert {"stg_shotgrid__shot", "stg_shotgrid__shot__assets"} <= set(models)
    for name, sql in models.items():
        types = set(_casts(sql))
        assert types, name
        assert types <= DOCUMENTED[adapter], (name, types - DOCUMENTED[adapter])
        sqlglot.parse_one(sql, read=DIALECT[adapter])  # raises on a syntax error
    shot = models["stg_shotgrid__shot"]
    quoted = "`user`" if adapter in BACKTICK else '"user"'
    other = '"user"' if adapter in BACKTICK else "`user`"
    assert f"cast({quoted} as" in shot and f"as {quoted}" in shot and other not in shot
    assert re.search(r"'(Asset|Shot)'", shot)  # the typed-link filters are string literals


@pytest.mark.parametrize("adapter", sorted(DIALECT))
def test_bridges_select_owner_position_type_and_id(project: Path, adapter: str) -> None:
    sql = render_for(project, adapter)["stg_shotgrid__shot__assets"]
    tree = sqlglot.parse_one(sql, read=DIALECT[adapter])
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    assert select is not None
    assert [c.alias_or_name for c in select.expressions] == ["shot_id", "link_position", "linked_type", "linked_id"]
    assert "_sg_retired" in sql
    if adapter in ("spark", "databricks"):
        assert "with recursive" not in sql.lower() and "posexplode" in sql  # Spark before 4.1 has no recursion


def test_the_check_fails_on_the_old_portable_names(project: Path, tmp_path: Path) -> None:
    """What broke on Spark (text, double precision, timestamp with time zone) fails this check on Spark,
    BigQuery, Trino and Redshift: the project with every adapter served the old portable names."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(project, old)
    types = old / "macros" / "sg2dbt_types.sql"
    text = types.read_text()
    default = re.search(r"default__staging_types\(\) %}\s*\{\{ return\((\{.*?\})\) \}\}", text, re.S)
    assert default is not None and '"text": "text"' in default.group(1)
    types.write_text(re.sub(r"(__staging_types\(\) %}\s*\{\{ return\()\{.*?\}",
                            lambda m: m.group(1) + default.group(1), text, flags=re.S))
    for adapter in ("spark", "bigquery", "trino", "redshift"):
        cast = set(_casts(render_for(old, adapter)["stg_shotgrid__shot"]))
        assert cast - DOCUMENTED[adapter], adapter
    assert sorted(_casts("select cast(trim(cast(a as text)) as bigint), cast(b  as double precision)")) == \
        ["bigint", "double precision", "text"]
