"""The optional ``dbt build`` after a sync (``sync.dbt_build``), through dbt's own runner (``dbtRunner``).

The staging models are views: new rows need no rebuild, only a schema change does. So ``changed`` builds
nothing after a cycle that changed no schema and wrote no rows, everything once when the project was just
created, the models downstream of each raw table whose columns changed (``--select source:<source>.<table>+``,
tests included), and the stored models (tables: the bridges by default, docs/dbt-project.md) downstream of each
raw table that got rows (``source:<source>.<table>+,config.materialized:table``); ``all`` builds the whole
project after every cycle that wrote rows or changed the schema.

The profile comes from the warehouse URL, through the environment variables the generated ``profiles.yml``
reads (no file holds a secret); the password goes in ``DBT_ENV_SECRET_PG_PASSWORD``, which dbt keeps out of
its logs. On DuckDB the sync's own connections are closed first: dbt opens the file itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from sg2dbt.sync.run import CycleSummary, SyncOptions


def _environment(values: dict[str, str]) -> Any:
    """The dbt profile's env_var() settings for one dbt run, the environment restored afterwards."""
    from unittest import mock

    return mock.patch.dict(os.environ, values)


class DbtStep:
    def __init__(self, url: sa.URL, options: SyncOptions) -> None:
        self.url = url
        self.options = options

    def environment(self) -> dict[str, str]:
        env = {"SG2DBT_RAW_SCHEMA": self.options.raw_schema or "main"}
        if self.url.get_backend_name() == "duckdb":
            env |= {"SG2DBT_TARGET": "duckdb", "SG2DBT_DUCKDB_PATH": os.path.abspath(self.url.database or "")}
        elif self.url.get_backend_name() == "postgresql":
            env |= {"SG2DBT_TARGET": "postgres", "SG2DBT_PG_HOST": self.url.host or "127.0.0.1",
                    "SG2DBT_PG_PORT": str(self.url.port or 5432), "SG2DBT_PG_USER": self.url.username or "",
                    "SG2DBT_PG_DBNAME": self.url.database or "", "DBT_ENV_SECRET_PG_PASSWORD": self.url.password or ""}
        return env

    def selection(self, summary: CycleSummary) -> list[str] | None:
        """The ``--select`` arguments, ``[]`` for the whole project, None for no build."""
        schema = summary.schema or {}
        if self.options.dbt_build == "all":
            return [] if summary.rows or schema.get("project_files_written") else None
        if schema.get("project_created"):
            return []
        tables = (schema.get("changed_tables") or []) if schema.get("project_files_written") else []
        written = sorted({e.table for e in summary.entities if e.rows or e.retired or e.revived or e.deleted}
                         - set(tables))
        if not tables and not written:
            return None
        source = self.options.project.source_name if self.options.project else "shotgrid"
        return ["--select", " ".join([f"source:{source}.{t}+" for t in tables]
                                     + [f"source:{source}.{t}+,config.materialized:table" for t in written])]

    def after(self, summary: CycleSummary, engine: sa.Engine) -> dict[str, Any] | None:
        select = self.selection(summary)
        if select is None or self.options.project_dir is None:
            return None
        from dbt.cli.main import dbtRunner

        engine.dispose()   # DuckDB: dbt opens the file itself
        project = str(self.options.project_dir)
        with _environment(self.environment()):
            result = dbtRunner().invoke(["build", "--project-dir", project, "--profiles-dir", project, "--quiet",
                                         *select])
        if self.url.get_backend_name() == "duckdb":
            _close_dbt_duckdb()
        error = None if result.success else str(result.exception or "see dbt's log")
        return {"success": bool(result.success), "select": " ".join(select[1:]) or "all", "error": error}


def _close_dbt_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB connection open in the process after a run (a class-level environment):
    the sync's next connection to the same file, with its own settings, would then be refused ("different
    configuration than existing connections"). Close it, as a new dbt process would have."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()
