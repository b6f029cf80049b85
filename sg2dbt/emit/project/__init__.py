"""The dbt project emitter: ``sg2dbt build`` renders a project from a schema, ``init-db`` creates its raw tables.

Decisions are written down in docs/dbt-project.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sg2dbt.core.errors import ProjectError
from sg2dbt.core.layout import plan as plan_layout
from sg2dbt.core.model import Schema
from sg2dbt.emit.project.options import ADAPTERS, BRIDGE_MATERIALIZATIONS, ProjectOptions
from sg2dbt.emit.project.render import render as render_files
from sg2dbt.emit.project.staging import plan as plan_staging
from sg2dbt.emit.project.writer import MANIFEST, WriteReport, write_project
from sg2dbt.emit.rawdb import create_raw_tables

__all__ = ["ADAPTERS", "BRIDGE_MATERIALIZATIONS", "MANIFEST", "ProjectOptions", "WriteReport", "build_project",
           "create_raw_tables", "models_reading"]


def build_project(schema: Schema, out: str | Path, options: ProjectOptions | None = None) -> WriteReport:
    """Render the project for ``schema`` and write it under ``out`` (created, or refreshed in place)."""
    out = Path(out)
    files = render_files(plan_layout(schema), options or ProjectOptions(), out.resolve())
    return write_project(files, out)


def models_reading(schema: Schema, entities: Iterable[str], options: ProjectOptions | None = None, *,
                   stored_only: bool = False) -> list[str]:
    """The generated models that read the raw tables of ``entities`` (API names): each one's staging model and
    bridges, sorted, for ``dbt build --select``. With ``stored_only``, only the models that store rows (the
    bridges when they are tables, the default): the ones a load leaves stale; views read the raw tables on
    every query. An entity that the schema does not hold is a ProjectError."""
    options = options or ProjectOptions()
    staged = plan_staging(plan_layout(schema), options)
    wanted = set(entities)
    unknown = sorted(wanted - set(staged.models))
    if unknown:
        raise ProjectError(f"no dbt models read entities {', '.join(unknown)}: not in schema {schema.source}")
    out: list[str] = []
    for entity in sorted(wanted):
        m = staged.models[entity]
        if not stored_only:
            out.append(m.name)
        if not stored_only or options.bridges == "table":
            out.extend(b.name for b in m.bridges)
    return sorted(out)
