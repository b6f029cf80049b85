"""The ``sg2dbt`` command line.

Subcommands live in their own modules and are imported only when invoked, so ``sg2dbt ddl`` does not pay
for importing dbt, and a broken optional dependency only breaks the command that needs it.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from sg2dbt.errors import Sg2dbtError

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "orm": "sg2dbt.commands.core:orm",
    "ddl": "sg2dbt.commands.core:ddl",
    "schema": "sg2dbt.commands.schema:schema",
    "build": "sg2dbt.commands.build:build",
    "init-db": "sg2dbt.commands.build:init_db",
    "load": "sg2dbt.commands.load:load",
    "dump": "sg2dbt.commands.load:dump",
    "diff": "sg2dbt.commands.evolve:diff",
    "migrate": "sg2dbt.commands.evolve:migrate",
    "demo": "sg2dbt.commands.demo:demo",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        cmd: click.Command = getattr(importlib.import_module(module), attr)
        return cmd


@click.group(cls=LazyGroup)
@click.version_option(package_name="sg2dbt")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """From a ShotGrid schema to ORM classes, raw tables, a loader and a dbt project."""
    level = logging.WARNING - 10 * min(verbose, 2)
    # The handler's own level holds the verbosity: a library that lowers its logger's level (Alembic's
    # fileConfig sets 'alembic' to INFO) must not get its records printed past -v.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # force: in-process callers (tests, notebooks) invoke the CLI repeatedly with a different sys.stderr each
    # time; a handler bound to the first one would write to a closed stream afterwards.
    logging.basicConfig(level=level, handlers=[handler], force=True)


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
        click.echo(f"sg2dbt: error: {exc}", err=True)
        sys.exit(2)
