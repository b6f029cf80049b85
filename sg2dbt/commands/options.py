"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from sg2dbt import sources
from sg2dbt.model import Schema

F = Callable[..., Any]


def schema_options(func: F) -> F:
    """``--schema FILE`` (JSON or Mockgun pickle), ``--entity-schema FILE`` and entity/field filters."""
    for opt in reversed([
        click.option("--schema", "schema_path", required=True, type=click.Path(dir_okay=False),
                     help="Schema file: seed JSON, raw schema_read() JSON, or a Mockgun .pickle."),
        click.option("--entity-schema", "entity_schema_path", type=click.Path(dir_okay=False),
                     help="schema_entity_read() JSON (display names) for a raw schema_read() file."),
        click.option("--only", multiple=True, help="Keep only these entities (repeatable)."),
        click.option("--ignore", multiple=True, help="Leave out these entities (repeatable)."),
        click.option("--ignore-field", multiple=True,
                     help="Leave out a field: 'field' on every entity or 'Entity.field' (repeatable)."),
    ]):
        func = opt(func)
    return func


def read_schema(schema_path: str, entity_schema_path: str | None, only: tuple[str, ...],
                ignore: tuple[str, ...], ignore_field: tuple[str, ...]) -> Schema:
    """The filtered schema the options describe."""
    schema = sources.from_path(schema_path, entity_schema_path)
    return schema.filtered(only=only or None, ignore=ignore, ignore_fields=ignore_field)
