"""``sg2dbt schema dump``: a live site's schema into a JSON file that every other command reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sg2dbt.cli.commands.options import site_credentials, site_options


@click.group()
def schema() -> None:
    """Read a site's schema."""


@schema.command(name="dump")
@site_options
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSON file to write.")
def dump(out: str, **site: Any) -> None:
    """Write the site's schema (schema_read + schema_entity_read, two calls) as the seed's JSON format."""
    from sg2dbt.core.errors import LoadError
    from sg2dbt.core.output import write_text
    from sg2dbt.core.secrets import redacted_first_line
    from sg2dbt.schema import sources
    from sg2dbt.schema.connect import connect

    creds = site_credentials(**site)
    sg = connect(creds)
    try:
        fields = sg.schema_read()
        entities = sg.schema_entity_read()
    except Exception as exc:  # noqa: BLE001 - any site failure is reported the same way, without secrets
        raise LoadError(f"{creds.label}: cannot read the schema: {type(exc).__name__}: {redacted_first_line(exc)}") \
            from None
    doc = {name: {"name": entities.get(name, {}).get("name", {"value": name}), "fields": specs}
           for name, specs in sorted(fields.items())}
    parsed = sources.from_dict(doc, source=creds.label)   # refuse a schema the other commands could not read
    path = Path(out)
    write_text(path, json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    click.echo(f"wrote {path}: {len(parsed)} entities, "
               f"{sum(len(e.fields) for e in parsed)} fields from {creds.label}", err=True)
