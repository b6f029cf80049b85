"""The ``sg2dbt`` command line.

Subcommands live in their own modules and are imported only when invoked, so ``sg2dbt ddl`` does not pay
for importing dbt, and a broken optional dependency only breaks the command that needs it.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from sg2dbt import __version__
from sg2dbt.cli.commands.options import QUIET, VERBOSE, add_verbosity, configure_logging
from sg2dbt.core.errors import Sg2dbtError

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "init": "sg2dbt.cli.commands.init:init",
    "orm": "sg2dbt.cli.commands.core:orm",
    "ddl": "sg2dbt.cli.commands.core:ddl",
    "schema": "sg2dbt.cli.commands.schema:schema",
    "build": "sg2dbt.cli.commands.build:build",
    "init-db": "sg2dbt.cli.commands.build:init_db",
    "load": "sg2dbt.cli.commands.load:load",
    "land-parquet": "sg2dbt.cli.commands.land:land_parquet",
    "dump": "sg2dbt.cli.commands.load:dump",
    "diff": "sg2dbt.cli.commands.evolve:diff",
    "migrate": "sg2dbt.cli.commands.evolve:migrate",
    "demo": "sg2dbt.cli.commands.demo:demo",
    "sync": "sg2dbt.cli.commands.sync:sync",
    "status": "sg2dbt.cli.commands.sync:status",
}


# command name -> its one-line help, so `sg2dbt --help` lists the commands without importing them (and the
# SQLAlchemy, dbt and Alembic they pull in). A test keeps each equal to the command's own first sentence; a
# command missing here is imported to ask.
SUMMARIES: dict[str, str] = {
    "build": "Scaffold or refresh a dbt project: sources, staging and bridge models, tests, macros, raw DDL.",
    "ddl": "Print CREATE TABLE statements for the raw tables, compiled by SQLAlchemy.",
    "demo": "Generate a demo studio, load it into DuckDB, run dbt build and print what the marts say.",
    "diff": "What changed from schema file OLD to schema file NEW (or, without NEW, the live site), and what it "
            "means for the raw tables.",
    "dump": "Write every record of a site (live and retired) as <Entity>.jsonl / <Entity>.retired.jsonl files.",
    "init": "Write a commented sg2dbt.yml: site, warehouse, schema file, dbt project, selection, sync policy.",
    "init-db": "Create the raw tables (and their schema) on a database; existing tables are left alone.",
    "load": "Copy records from a site (or a dump) into the raw tables: full the first time, incremental after.",
    "land-parquet": "Land the loaded raw tables as Parquet files where Spark reads them.",
    "migrate": "Bring the raw tables in line with a schema (new tables and columns), through Alembic.",
    "orm": "Write a standalone SQLAlchemy module: Base, one class per entity, CLASSES.",
    "schema": "Read a site's schema.",
    "status": "Where each entity stands: last sync, mode, rows live and retired, lag behind the event log, failures.",
    "sync": "Keep the raw tables (and the dbt project) equal to the site: schema, event log, updated_at scan.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from :data:`SUMMARIES` (importing only what is missing there)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            summary = SUMMARIES.get(name)
            # click's own shortening, on a stand-in command when the summary is known
            cmd = self.get_command(ctx, name) if summary is None else click.Command(name, help=summary)
            rows.append((name, cmd.get_short_help_str(limit) if cmd is not None else ""))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return add_verbosity(cmd)


def _default_map(config: Any) -> dict[str, Any]:
    """click's per-command defaults from the config file, for every command and subcommand."""
    from sg2dbt.cli.commands.options import config_defaults

    defaults = config_defaults(config)
    common = defaults.pop("__common__")

    def for_command(name: str) -> dict[str, Any]:
        own = {k: v for k, v in defaults.get(name, {}).items() if v is not None}
        return {**common, **own}

    mapping = {name: for_command(name) for name in COMMANDS}
    mapping["schema"]["dump"] = for_command("schema dump")
    mapping["migrate"]["init"] = for_command("migrate init")
    return mapping


@click.group(cls=LazyGroup, params=[VERBOSE, QUIET])
@click.version_option(version=__version__, prog_name="sg2dbt")
@click.option("--config", "config_path", envvar="SG2DBT_CONFIG", show_envvar=True, type=click.Path(dir_okay=False),
              help="Project config file (default: ./sg2dbt.yml if it exists).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """From a ShotGrid schema to ORM classes, raw tables, a loader and a dbt project.

    Every command reads the project config (sg2dbt.yml, see `sg2dbt init`); flags and environment
    variables override it.
    """
    from pathlib import Path

    from sg2dbt.config import load_config

    configure_logging(ctx.meta.get("sg2dbt.verbosity", 0))
    config = load_config(Path(config_path) if config_path else None)
    ctx.obj = config
    ctx.default_map = _default_map(config)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: our own errors become one line on stderr and exit status 2, never a traceback."""
    try:
        return cli.main(args=argv, prog_name="sg2dbt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Sg2dbtError as exc:
        from sg2dbt.core.secrets import redact

        click.echo(redact(f"sg2dbt: error: {exc}"), err=True)
        sys.exit(2)
    except Exception as exc:
        # A database failure a command did not explain (a server that went away mid-command): still one
        # line, redacted, never a traceback. SQLAlchemy is imported only by the commands that use it.
        sa_exc = sys.modules.get("sqlalchemy.exc")
        if sa_exc is None or not isinstance(exc, sa_exc.SQLAlchemyError):
            raise
        from sg2dbt.core.secrets import redacted_first_line

        cause = getattr(exc, "orig", None) or exc
        click.echo(f"sg2dbt: error: database error: {type(cause).__name__}: {redacted_first_line(cause, 300)}",
                   err=True)
        sys.exit(2)
