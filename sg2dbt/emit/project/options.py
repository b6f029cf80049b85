"""What a user chooses for a generated dbt project (everything else follows from the schema)."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sg2dbt.core.errors import ProjectError
from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA
from sg2dbt.core.naming import DisplayNameConvention, NamingConvention

# The adapters with a target in the generated profiles.yml (the project compiles for more: docs/dbt-project.md).
ADAPTERS = ("duckdb", "postgres", "spark")
# How bridge models are materialised (docs/dbt-project.md: a view splits the id lists on every query; a table
# is ~100x faster to read on the shared schema, bench/bench_bridges.py). Staging models stay views.
BRIDGE_MATERIALIZATIONS = ("table", "view")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class ProjectOptions:
    adapter: str = "duckdb"
    source_name: str = "shotgrid"
    raw_schema: str = DEFAULT_RAW_SCHEMA
    project_name: str = "shotgrid_analytics"
    name_by_display: bool = False
    db_path: Path | None = None  # DuckDB file; default <project-name>.duckdb in the project directory
    convention: NamingConvention | None = None   # a custom naming convention (Python API); None: the built-in one
    bridges: str = "table"       # materialisation of the bridge models (one of BRIDGE_MATERIALIZATIONS)

    def __post_init__(self) -> None:
        if self.convention is not None and self.name_by_display:
            raise ProjectError("name_by_display and a custom naming convention both decide the model names: "
                               "choose one (subclass DisplayNameConvention for both)")
        if self.adapter not in ADAPTERS:
            raise ProjectError(f"unknown adapter {self.adapter!r}; choose one of {', '.join(ADAPTERS)}")
        if self.bridges not in BRIDGE_MATERIALIZATIONS:
            raise ProjectError(f"unknown bridge materialisation {self.bridges!r}; choose one of "
                               f"{', '.join(BRIDGE_MATERIALIZATIONS)}")
        for label, value in (("source name", self.source_name), ("raw schema", self.raw_schema),
                             ("project name", self.project_name)):
            if not _NAME.match(value) or len(value) > 40:
                raise ProjectError(f"{label} {value!r} must be a lower-case identifier ([a-z_][a-z0-9_]*, "
                                   f"at most 40 characters)")

    @property
    def naming(self) -> NamingConvention:
        """The convention every staging-layer name comes from."""
        if self.convention is not None:
            return dataclasses.replace(self.convention, source_name=self.source_name)
        convention = DisplayNameConvention if self.name_by_display else NamingConvention
        return convention(source_name=self.source_name)

    @property
    def dialect(self) -> str:
        """Dialect of the DBA's DDL file: a SQLAlchemy dialect name, or ``spark``."""
        return {"postgres": "postgresql", "spark": "spark"}.get(self.adapter, "duckdb")

    def duckdb_path(self, out: Path) -> str:
        """The DuckDB file relative to the project directory (default ``<project-name>.duckdb`` in it): no
        generated file holds a path of the build machine, and the project can move with its database."""
        if self.db_path is None:
            return f"{self.project_name}.duckdb"
        return Path(os.path.relpath(self.db_path.resolve(), out.resolve())).as_posix()
