"""Render a whole dbt project in memory: ``{relative path: text}``, sorted, byte-for-byte deterministic.

The static skeleton lives in ``dbt_project_template/`` (shipped in wheels as ``sg2dbt/dbt_project_template``):
``*.j2`` files are rendered, the rest copied. Per-model SQL comes from ``sg2dbt/templates/project``. Our
templates use ``[[ ]]``/``[% %]`` delimiters so dbt's own ``{{ }}`` Jinja passes through untouched.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

from sg2dbt.core import naming
from sg2dbt.core.layout import RawLayout
from sg2dbt.core.typemap import CAST_ADAPTERS, STORAGE, staging_casts
from sg2dbt.emit.ddl import create_statements
from sg2dbt.emit.metadata import build_metadata
from sg2dbt.emit.project import yaml_docs
from sg2dbt.emit.project.options import ProjectOptions
from sg2dbt.emit.project.staging import StagingPlan, plan, quote_expr

RAW_DDL = "raw/create_raw_tables.sql"
# sqlfluff's dialect for the default target (the generated .sqlfluff lints with dbt's templater).
SQLFLUFF_DIALECT = {"duckdb": "duckdb", "postgres": "postgres", "spark": "sparksql"}


def template_dir() -> Path:
    """The project skeleton: package data in a wheel, the repository's folder in an editable install."""
    packaged = resources.files("sg2dbt") / "dbt_project_template"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "dbt_project_template"


def _yaml_scalar(value: object) -> str:
    text = yaml.safe_dump(value, width=1 << 30, allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def _env(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
        undefined=jinja2.StrictUndefined,
        variable_start_string="[[", variable_end_string="]]", block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
    )
    env.filters["yaml"] = _yaml_scalar
    env.filters["quoted"] = quote_expr
    # SG text in a model's SQL comment: one line, and no braces or percent signs that dbt's Jinja could run.
    env.filters["sqlcomment"] = lambda s: " ".join(str(s).split()).translate(str.maketrans("{}%#", "()  "))
    env.filters["md"] = lambda s: " ".join(str(s).split()).replace("|", "\\|")
    return env


@cache
def _models_env() -> jinja2.Environment:
    return _env(jinja2.PackageLoader("sg2dbt", "templates/project"))


def _context(p: StagingPlan, out: Path) -> dict[str, Any]:
    o = p.options
    db = o.duckdb_path(out)
    example_url = {"duckdb": f"duckdb:///{db}", "postgres": "postgresql+psycopg://USER@HOST:5432/DBNAME",
                   "spark": "duckdb:///raw.duckdb"}[o.adapter]
    return {
        "project_name": o.project_name, "source_name": o.source_name, "raw_schema": o.raw_schema,
        "default_target": o.adapter, "schema_name": yaml_docs.schema_name(p),
        # dbt-duckdb resolves a relative path from the working directory: the project's, or DBT_PROJECT_DIR's.
        # A Jinja string literal inside dbt's env_var(): json.dumps escapes quotes and backslashes.
        "duckdb_path_expr": ("{{ env_var('SG2DBT_DUCKDB_PATH', env_var('DBT_PROJECT_DIR', '.') ~ '/' ~ "
                             f"{json.dumps(db)}) }}}}"),
        "duckdb_path": db,
        "casts": {a: staging_casts(a) for a in ("default", *CAST_ADAPTERS)},
        "bridges_materialized": o.bridges, "sqlfluff_dialect": SQLFLUFF_DIALECT[o.adapter],
        "example_url": example_url, "models": list(p), "bridges": p.bridges,
        "omitted": [(m.entity, f.name) for m in p for f in m.table.omitted],
    }


def _skeleton(p: StagingPlan, out: Path) -> dict[str, str]:
    root = template_dir()
    env = _env(jinja2.FileSystemLoader(str(root)))
    ctx = _context(p, out)
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        if rel.endswith(".j2"):
            files[rel.removesuffix(".j2")] = env.get_template(rel).render(ctx)
        else:
            files[rel] = path.read_text(encoding="utf-8")
    return files


def render_plan(p: StagingPlan, out: Path) -> dict[str, str]:
    """Every file of the project, by path relative to ``out``."""
    o = p.options
    base = f"models/staging/{o.source_name}"
    files = _skeleton(p, out)
    files[f"{base}/_{o.source_name}__sources.yml"] = yaml_docs.dump(yaml_docs.sources_doc(p))
    env = _models_env()
    staging, bridge = env.get_template("staging_model.sql.j2"), env.get_template("bridge_model.sql.j2")
    for m in p:
        files[f"{base}/{m.name}.sql"] = staging.render(model=m, source_name=o.source_name, names=naming)
        files[f"{base}/{m.name}.yml"] = yaml_docs.dump(yaml_docs.model_doc(m, o.source_name))
        for b in m.bridges:
            files[f"{base}/bridges/{b.name}.sql"] = bridge.render(bridge=b, source_name=o.source_name, names=naming)
            files[f"{base}/bridges/{b.name}.yml"] = yaml_docs.dump(yaml_docs.bridge_doc(b, o.source_name))
    files[RAW_DDL] = spark_ddl(p.layout, o.raw_schema) if o.adapter == "spark" else (
        "-- Generated by sg2dbt: the raw tables that `sg2dbt load` fills, for "
        f"{o.dialect} (or run `sg2dbt init-db`).\n\n"
        + create_statements(build_metadata(p.layout, o.raw_schema), o.dialect))
    return dict(sorted(files.items()))


def spark_ddl(layout: RawLayout, raw_schema: str) -> str:
    """The raw tables for Spark: external Parquet tables over the folders that ``sg2dbt land-parquet`` writes
    (``<root>/<table>/``), typed from the type map. ``${env:SG2DBT_SPARK_RAW_PATH}`` is Spark SQL's own
    variable substitution, so ``spark-sql -f`` runs the file as it is."""
    out = ["-- Generated by sg2dbt: the raw tables for Spark, Parquet files written by `sg2dbt land-parquet`.",
           "-- Run with SG2DBT_SPARK_RAW_PATH set to the landing folder (spark-sql -f create_raw_tables.sql);",
           "-- with dbt's session target the project's on-run-start hook registers them itself.", "",
           f"create schema if not exists `{raw_schema}`;"]
    for t in layout:
        columns = ",\n".join(f"    `{c.name}` {STORAGE[c.logical].spark_ddl}" for c in t.columns)
        out.append(f"\ncreate table if not exists `{raw_schema}`.`{t.name}` (\n{columns}\n)\nusing parquet\n"
                   f"location '${{env:SG2DBT_SPARK_RAW_PATH}}/{t.name}';")
    return "\n".join(out) + "\n"


def render(layout: RawLayout, options: ProjectOptions, out: Path) -> dict[str, str]:
    return render_plan(plan(layout, options), out)
