"""Options shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from sg2dbt import sources
from sg2dbt.model import Schema

if TYPE_CHECKING:
    from sg2dbt.connect import Credentials

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


def site_options(func: F) -> F:
    """A live site: URL and script or login as flags or ``SG_*`` env; secrets from env or a file only."""
    for opt in reversed([
        click.option("--url", "site_url", help="Site URL (default: $SG_URL)."),
        click.option("--script", "site_script", help="API script name (default: $SG_SCRIPT)."),
        click.option("--api-key-file", type=click.Path(dir_okay=False),
                     help="File holding the script's API key (default: $SG_API_KEY_FILE, else $SG_API_KEY)."),
        click.option("--login", "site_login", help="User login instead of a script (default: $SG_LOGIN)."),
        click.option("--password-file", type=click.Path(dir_okay=False),
                     help="File holding the user's password (default: $SG_PASSWORD_FILE, else $SG_PASSWORD)."),
    ]):
        func = opt(func)
    return func


def site_credentials(site_url: str | None, site_script: str | None, api_key_file: str | None,
                     site_login: str | None, password_file: str | None) -> Credentials:
    """:class:`sg2dbt.connect.Credentials` from :func:`site_options` values, with log redaction installed."""
    from sg2dbt.connect import credentials, install_log_redaction

    creds = credentials(url=site_url, script=site_script, api_key_file=api_key_file, login=site_login,
                        password_file=password_file)
    install_log_redaction()
    return creds
