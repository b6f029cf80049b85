"""The dbt project emitter: ``sg2dbt build`` renders a project from a schema, ``init-db`` creates its raw tables.

Decisions are written down in docs/dbt-project.md.
"""

from __future__ import annotations

from pathlib import Path

from sg2dbt.core.layout import plan as plan_layout
from sg2dbt.core.model import Schema
from sg2dbt.emit.project.options import ADAPTERS, BRIDGE_MATERIALIZATIONS, ProjectOptions
from sg2dbt.emit.project.render import render as render_files
from sg2dbt.emit.project.writer import MANIFEST, WriteReport, write_project
from sg2dbt.emit.rawdb import create_raw_tables

__all__ = ["ADAPTERS", "BRIDGE_MATERIALIZATIONS", "MANIFEST", "ProjectOptions", "WriteReport", "build_project",
           "create_raw_tables"]


def build_project(schema: Schema, out: str | Path, options: ProjectOptions | None = None) -> WriteReport:
    """Render the project for ``schema`` and write it under ``out`` (created, or refreshed in place)."""
    out = Path(out)
    files = render_files(plan_layout(schema), options or ProjectOptions(), out.resolve())
    return write_project(files, out)
