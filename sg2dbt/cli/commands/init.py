"""``sg2dbt init``: write a commented project config (``sg2dbt.yml``) to start from."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from sg2dbt.config import CONFIG_NAME


def config_template() -> str:
    """The commented config ``sg2dbt init`` writes (every key, its default, and what it does)."""
    return files("sg2dbt").joinpath("templates").joinpath(CONFIG_NAME).read_text(encoding="utf-8")


@click.command()
@click.option("--out", default=CONFIG_NAME, show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the config.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(out: str, force: bool) -> None:
    """Write a commented sg2dbt.yml: site, warehouse, schema file, dbt project, selection, sync policy."""
    from sg2dbt.core.output import OutputError, write_text

    path = Path(out)
    if path.exists() and not force:
        raise OutputError(f"{path} exists: edit it, or pass --force to replace it")
    write_text(path, config_template())
    click.echo(f"wrote {path}: fill in the site and warehouse, then `sg2dbt schema dump --out schema.json`",
               err=True)
