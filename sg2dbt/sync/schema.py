"""The live schema against the warehouse: what ``sg2dbt sync`` changes by itself and what it holds.

* Additive changes (a new entity, a new field) are migrated (:func:`sg2dbt.evolve.migrate.migrate`) and the
  dbt project is refreshed (:func:`sg2dbt.emit.project.build_project`): no human needed.
* A field or entity gone from the site, by ``schema_changes.removed``: ``keep`` (default) leaves its column or
  table as it is, never filled again (the loader only writes the columns the site still has, so the values
  stay); ``drop`` drops it.
* A changed type is held: the column keeps its type and data, the field is left out of the sync (its column
  is no longer filled) and the cycle reports it, with the command that applies it; everything else goes on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout, plan
from sg2dbt.core.model import Schema
from sg2dbt.emit.project import ProjectOptions, build_project
from sg2dbt.evolve.migrate import Change, drift, migrate, target_metadata

log = logging.getLogger(__name__)

ADDITIVE = frozenset({"create_table", "add_column"})
DROPS = frozenset({"drop_table", "drop_column"})


@dataclass
class SchemaStep:
    schema: Schema                     # what the sync loads: the live selection minus held fields
    layout: RawLayout
    digest: str
    applied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    project_written: list[str] = field(default_factory=list)
    changed_tables: set[str] = field(default_factory=set)   # raw tables whose columns changed
    project_created: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"applied": self.applied, "kept": self.kept, "held": self.held,
                "project_files_written": len(self.project_written), "project_created": self.project_created,
                "changed_tables": sorted(self.changed_tables)}


def digest(schema: Schema) -> str:
    return hashlib.sha256(repr(schema).encode("utf-8")).hexdigest()[:16]


def _column_field(layout: RawLayout, change: Change) -> tuple[str, str] | None:
    """(entity, field) of a column change, from the layout of the live schema."""
    table_name = change.table.rsplit(".", 1)[-1]
    column = getattr(change.op, "column_name", None)
    for t in layout:
        if t.name == table_name and column is not None:
            c = next((c for c in t.columns if c.name == column), None)
            return (t.entity.name, c.field.name) if c is not None and c.field is not None else None
    return None


def reconcile(engine: sa.Engine, live: Schema, raw_schema: str | None, *, removed: Literal["keep", "drop"],
              previous_digest: str | None, project_dir: Path | None,
              project: ProjectOptions | None) -> SchemaStep:
    """Bring the raw tables (and the dbt project) in line with ``live``, by the rules above."""
    held_fields: list[str] = []
    held: list[str] = []
    layout = plan(live)
    for change in drift(layout, engine, raw_schema):
        if change.kind == "alter_type":
            owner = _column_field(layout, change)
            if owner is not None:
                held_fields.append(".".join(owner))
                held.append(f"held: {change.description} (the field {'.'.join(owner)} is not synced until the "
                            f"type change is applied: `sg2dbt migrate --allow-destructive`)")
    schema = live.filtered(ignore_fields=held_fields) if held_fields else live
    layout = plan(schema)
    held_columns = {(t.name, c.name) for t in plan(live) for c in t.columns
                    if c.field is not None and f"{t.entity.name}.{c.field.name}" in held_fields}

    def allow(change: Change) -> bool:
        column = (change.table.rsplit(".", 1)[-1], getattr(change.op, "column_name", None))
        return change.kind in ADDITIVE or (removed == "drop" and change.kind in DROPS and column not in held_columns)

    report = migrate(engine, target_metadata(schema, raw_schema), raw_schema, allow=allow)
    step = SchemaStep(schema=schema, layout=layout, digest=digest(schema), held=held,
                      applied=[c.description for c in report.applied],
                      kept=[f"kept: {c.description} is not on the site any more; the data stays, never filled "
                            f"again (schema_changes.removed: drop drops it)"
                            for c in report.refused if c.kind in DROPS and (c.table.rsplit(".", 1)[-1],
                                                                            getattr(c.op, "column_name", None))
                            not in held_columns])
    for line in step.applied + step.kept + step.held:
        log.warning("schema: %s", line) if line in step.held else log.info("schema: %s", line)
    step.changed_tables = {c.table.rsplit(".", 1)[-1] for c in report.applied + report.refused}
    if project_dir is not None and (step.digest != previous_digest or not project_dir.exists()):
        step.project_created = not (project_dir / "dbt_project.yml").exists()
        step.project_written = build_project(schema, project_dir, project).written
    return step
