"""Options shared by several commands, so each is spelled, documented and defaulted once.

Where a value comes from, strongest first: the flag, its environment variable (shown in ``--help``), the
config file (:mod:`sg2dbt.config`, handed to click as the commands' ``default_map``), the built-in default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sg2dbt.config import Config
    from sg2dbt.core.model import Schema
    from sg2dbt.schema.connect import Credentials

F = Callable[..., Any]

ENV_DB = "SG2DBT_DB"
ENV_RAW_SCHEMA = "SG2DBT_RAW_SCHEMA"
ENV_SCHEMA = "SG2DBT_SCHEMA_FILE"   # SG2DBT_SCHEMA is the dbt project's model schema


class NeededOption(click.Option):
    """A required option that an environment variable or the config file can also give.

    ``--help`` marks it required only when neither does, and a missing value names all three places.
    """

    def __init__(self, *args: Any, config_key: str, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, required=True, **kwargs)
        self.config_key = config_key

    def _given_elsewhere(self, ctx: click.Context) -> bool:
        return self.resolve_envvar_value(ctx) is not None or ctx.lookup_default(self.name or "") is not None

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        if self._given_elsewhere(ctx):
            extra.pop("required", None)
        return extra

    def process_value(self, ctx: click.Context, value: Any) -> Any:
        try:
            return super().process_value(ctx, value)
        except click.MissingParameter:
            from sg2dbt.config import CONFIG_NAME

            raise click.UsageError(f"missing {self.opts[-1]}: give it, set {self.envvar}, or set "
                                   f"{self.config_key} in {CONFIG_NAME}", ctx=ctx) from None


def schema_options(func: F) -> F:
    """``--schema FILE`` (JSON or Mockgun pickle), ``--entity-schema FILE`` and entity/field filters."""
    for opt in reversed([
        click.option("--schema", "schema_path", cls=NeededOption, config_key="schema_file", envvar=ENV_SCHEMA,
                     type=click.Path(dir_okay=False),
                     help="Schema file: seed JSON, raw schema_read() JSON, or a Mockgun .pickle."),
        click.option("--entity-schema", "entity_schema_path", type=click.Path(dir_okay=False),
                     help="schema_entity_read() JSON (display names) for a raw schema_read() file."),
        click.option("--only", multiple=True, help="Keep only these entities (repeatable; config: "
                                                   "selection.entities)."),
        click.option("--ignore", multiple=True, help="Leave out these entities (repeatable; config: "
                                                     "selection.ignored_entities)."),
        click.option("--ignore-field", multiple=True,
                     help="Leave out a field: 'field' on every entity or 'Entity.field' (repeatable; config: "
                          "selection.ignored_fields)."),
    ]):
        func = opt(func)
    return func


def read_schema(schema_path: str, entity_schema_path: str | None, only: tuple[str, ...],
                ignore: tuple[str, ...], ignore_field: tuple[str, ...]) -> Schema:
    """The filtered schema the options describe."""
    from sg2dbt.schema import sources

    schema = sources.from_path(schema_path, entity_schema_path)
    return schema.filtered(only=only or None, ignore=ignore, ignore_fields=ignore_field)


def site_options(func: F) -> F:
    """A live site: URL and script or login as flags or ``SG_*`` env; secrets from env or a file only."""
    for opt in reversed([
        click.option("--url", "site_url", envvar="SG_URL", show_envvar=True, help="Site URL."),
        click.option("--script", "site_script", envvar="SG_SCRIPT", show_envvar=True, help="API script name."),
        click.option("--api-key-env", metavar="VAR",
                     help="Environment variable holding the script's API key (default: SG_API_KEY)."),
        click.option("--api-key-file", envvar="SG_API_KEY_FILE", show_envvar=True, type=click.Path(dir_okay=False),
                     help="File holding the script's API key (instead of the variable)."),
        click.option("--login", "site_login", envvar="SG_LOGIN", show_envvar=True,
                     help="User login instead of a script."),
        click.option("--password-env", metavar="VAR",
                     help="Environment variable holding the user's password (default: SG_PASSWORD)."),
        click.option("--password-file", envvar="SG_PASSWORD_FILE", show_envvar=True, type=click.Path(dir_okay=False),
                     help="File holding the user's password (instead of the variable)."),
    ]):
        func = opt(func)
    return func


def site_credentials(site_url: str | None, site_script: str | None, api_key_file: str | None,
                     site_login: str | None, password_file: str | None, api_key_env: str | None = None,
                     password_env: str | None = None) -> Credentials:
    """:class:`sg2dbt.schema.connect.Credentials` from :func:`site_options` values, with log redaction installed."""
    from sg2dbt.schema.connect import credentials, install_log_redaction

    creds = credentials(url=site_url, script=site_script, api_key_file=api_key_file, login=site_login,
                        password_file=password_file, api_key_env=api_key_env, password_env=password_env)
    install_log_redaction()
    return creds


def db_option(func: F) -> F:
    """``--db URL`` (or ``SG2DBT_DB``, or ``warehouse.url``): the warehouse."""
    return click.option("--db", "url", cls=NeededOption, config_key="warehouse.url", envvar=ENV_DB,
                        help="SQLAlchemy URL of the warehouse: postgresql://..., duckdb:///path, sqlite:///path.")(func)


def raw_schema_option(func: F, help: str = "Database schema of the raw tables ('' for none, e.g. on SQLite).") -> F:
    """``--raw-schema`` (or ``SG2DBT_RAW_SCHEMA``, or ``warehouse.raw_schema``), one spelling on every command."""
    from sg2dbt.core.layout import DEFAULT_RAW_SCHEMA

    return click.option("--raw-schema", default=DEFAULT_RAW_SCHEMA, show_default=True, envvar=ENV_RAW_SCHEMA,
                        show_envvar=True, help=help)(func)


def config_defaults(config: Config) -> dict[str, Any]:
    """The config file as click's ``default_map``: parameter name -> value, the same for every command,
    plus what only some commands read (``build``'s project directory and adapter).

    Values equal to the config's own defaults are left out: the commands' defaults are the same values, and
    a command may refine its own (``ddl`` puts no schema on SQLite, which has none).
    """
    from sg2dbt.config import Config

    base = Config()

    def given(value: Any, default: Any) -> Any:
        return None if value == default else value

    site = config.site
    common: dict[str, Any] = {
        "schema_path": config.schema_file, "only": config.selection.entities,
        "ignore": config.selection.ignored_entities, "ignore_field": config.selection.ignored_fields,
        "site_url": site.url, "site_script": site.script, "api_key_env": site.api_key_env,
        "api_key_file": site.api_key_file, "site_login": site.login, "password_env": site.password_env,
        "password_file": site.password_file, "url": config.warehouse.url,
        "raw_schema": given(config.warehouse.raw_schema, base.warehouse.raw_schema),
    }
    common = {k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in common.items() if v not in (None, ())}
    return {"__common__": common,
            "build": {"out": str(config.dbt.project_dir) if config.dbt.project_dir else None,
                      "adapter": given(config.dbt.adapter, base.dbt.adapter)}}


def current_config() -> Config:
    """The config this invocation read (``sg2dbt --config`` or ./sg2dbt.yml); the defaults outside the CLI."""
    from sg2dbt.config import Config

    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    config = getattr(root, "obj", None) if root is not None else None
    return config if isinstance(config, Config) else Config()


_VERBOSITY = "sg2dbt.verbosity"


def _verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """-v/-q before or after the subcommand: each adds to one verbosity, applied to the log handler at once."""
    if not value or ctx.resilient_parsing:
        return
    meta = ctx.find_root().meta
    meta[_VERBOSITY] = meta.get(_VERBOSITY, 0) + (-1 if param.name == "quiet" else value)
    configure_logging(meta[_VERBOSITY])


def configure_logging(verbosity: int) -> None:
    """Warnings by default; -v info, -vv debug; -q errors only."""
    import logging
    import sys

    from sg2dbt.core.secrets import add_redaction

    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity,
                                                                         logging.DEBUG if verbosity > 1 else
                                                                         logging.ERROR)
    # The handler's own level holds the verbosity: a library that lowers its logger's level (Alembic's
    # fileConfig sets 'alembic' to INFO) must not get its records printed past -v.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    add_redaction(handler)   # every secret registered later (site key, database URL password) is masked
    # force: in-process callers (tests, notebooks) invoke the CLI repeatedly with a different sys.stderr each
    # time; a handler bound to the first one would write to a closed stream afterwards.
    logging.basicConfig(level=level, handlers=[handler], force=True)


VERBOSE = click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_verbosity,
                       help="More log output (-vv for debug).")
QUIET = click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_verbosity,
                     help="Errors only.")


def quiet_option(help: str) -> Callable[[F], F]:
    """A command's own ``-q/--quiet`` (less output of its own), which also quiets the log as ``-q`` does."""
    def callback(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        _verbosity(ctx, param, value)
        return value

    return click.option("-q", "--quiet", is_flag=True, callback=callback, help=help)


def add_verbosity(cmd: click.Command) -> click.Command:
    """Give ``cmd`` (and its subcommands) -v/-q unless it already has them (``load --quiet`` is its own)."""
    taken = {opt for param in cmd.params for opt in getattr(param, "opts", ())}
    for option in (VERBOSE, QUIET):
        if not taken.intersection(option.opts):
            cmd.params.append(option)
    for sub in getattr(cmd, "commands", {}).values():
        add_verbosity(sub)
    return cmd
