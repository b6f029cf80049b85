"""An Alembic environment for the raw tables: made by ``sg2dbt migrate init``, run by its ``env.py``.

The environment's ``env.py`` is three lines that call :func:`run_migrations`, so the comparison rules
(which schema, which tables, DuckDB's workaround) are upgraded with sg2dbt instead of being frozen into a
copied file. Alembic's own commands work on it: ``alembic revision --autogenerate``, ``alembic upgrade head``,
``alembic upgrade head --sql`` (offline).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alembic
import jinja2
import sqlalchemy as sa
from alembic.operations import ops as alembic_ops

from sg2dbt.core.database import ensure_schema
from sg2dbt.core.errors import MigrationError
from sg2dbt.evolve.migrate import (
    catalog_operations,
    context_options,
    flatten,
    strip_autoincrement,
    target_metadata,
)
from sg2dbt.schema.sources import from_path

TEMPLATES = Path(__file__).resolve().parent / "templates"
INI_NAME = "alembic.ini"

# Environment variables win over alembic.ini, so a URL with a password never has to be written down.
ENV_URL, ENV_SCHEMA, ENV_RAW_SCHEMA = "SG2DBT_DB", "SG2DBT_SCHEMA_FILE", "SG2DBT_RAW_SCHEMA"


@dataclass(frozen=True)
class Settings:
    url: str
    schema_path: str
    entity_schema_path: str | None
    raw_schema: str | None
    only: tuple[str, ...]
    ignore: tuple[str, ...]
    ignore_fields: tuple[str, ...]

    def metadata(self) -> sa.MetaData:
        schema = from_path(self.schema_path, self.entity_schema_path).filtered(
            only=self.only or None, ignore=self.ignore, ignore_fields=self.ignore_fields)
        return target_metadata(schema, self.raw_schema)


def settings(config: Any) -> Settings:
    """The environment's settings from an Alembic ``Config``: environment variables first, then the ini."""

    def get(key: str, env: str | None = None) -> str:
        value = os.environ.get(env) if env else None
        return (value if value else config.get_main_option(key) or "").strip()

    url, schema_path = get("sqlalchemy.url", ENV_URL), get("sg2dbt.schema", ENV_SCHEMA)
    if not url:
        raise MigrationError(f"no database URL: set sqlalchemy.url in {config.config_file_name} or {ENV_URL}")
    if not schema_path:
        raise MigrationError(f"no schema file: set sg2dbt.schema in {config.config_file_name} or {ENV_SCHEMA}")
    return Settings(url=url, schema_path=schema_path,
                    entity_schema_path=get("sg2dbt.entity_schema") or None,
                    raw_schema=get("sg2dbt.raw_schema", ENV_RAW_SCHEMA) or None,
                    only=tuple(get("sg2dbt.only").split()), ignore=tuple(get("sg2dbt.ignore").split()),
                    ignore_fields=tuple(get("sg2dbt.ignore_fields").split()))


def _duckdb_autogenerate(metadata: sa.MetaData, raw_schema: str | None) -> Any:
    """Alembic cannot reflect DuckDB (see :mod:`sg2dbt.evolve.migrate`): fill the revision ourselves."""

    def process_revision_directives(context: Any, revision: Any, directives: list[Any]) -> None:
        script = directives[0]
        operations = catalog_operations(context.connection, metadata, raw_schema)
        for op in operations:
            if isinstance(op, alembic_ops.AlterColumnOp):
                op.existing_type = None     # known only by DuckDB's name for it, which cannot be rendered
        upgrade = alembic_ops.UpgradeOps(ops=operations)
        script.upgrade_ops = upgrade
        try:
            script.downgrade_ops = upgrade.reverse()
        except ValueError:   # a drop or retype read from information_schema cannot be reversed
            script.downgrade_ops = alembic_ops.DowngradeOps(ops=[])

    return process_revision_directives


def _drop_autoincrement(context: Any, revision: Any, directives: list[Any]) -> None:
    """A revision's operations without the MySQL-only ``autoincrement`` argument (:func:`strip_autoincrement`)."""
    for ops_ in (directives[0].upgrade_ops, directives[0].downgrade_ops):
        for op in flatten(ops_.ops):
            strip_autoincrement(op)


def run_migrations(context: Any) -> None:
    """What ``env.py`` runs: online against the database, or offline (``--sql``) as a script."""
    cfg = settings(context.config)
    metadata = cfg.metadata()
    options = context_options(cfg.raw_schema)
    if context.is_offline_mode():
        context.configure(url=cfg.url, target_metadata=metadata, literal_binds=True,
                          version_table_schema=cfg.raw_schema)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(cfg.url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        ensure_schema(connection, cfg.raw_schema)
        connection.commit()
        if connection.dialect.name == "duckdb":
            options["include_object"] = lambda *args: False
            options["process_revision_directives"] = _duckdb_autogenerate(metadata, cfg.raw_schema)
        elif connection.dialect.name != "mysql":
            options["process_revision_directives"] = _drop_autoincrement
        # SQLite cannot ALTER a column's type: revisions use Alembic's batch mode (copy and rename).
        options["render_as_batch"] = connection.dialect.name == "sqlite"
        context.configure(connection=connection, target_metadata=metadata, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _ini_value(value: str) -> str:
    # Alembic reads alembic.ini with %-interpolation: a literal % (URL-encoded passwords) must be doubled.
    return value.replace("%", "%%")


def init_environment(directory: str | os.PathLike[str], *, schema_path: str, url: str, raw_schema: str | None,
                     entity_schema_path: str | None = None, only: tuple[str, ...] = (),
                     ignore: tuple[str, ...] = (), ignore_fields: tuple[str, ...] = ()) -> list[Path]:
    """Write an Alembic environment (alembic.ini, env.py, script.py.mako, versions/) into ``directory``.

    Refuses a directory that already holds an alembic.ini or env.py: those may be the user's.
    The URL is written only if it carries no password; otherwise env.py reads it from SG2DBT_DB.
    """
    target = Path(directory)
    existing = [p for p in (target / INI_NAME, target / "env.py") if p.exists()]
    if existing:
        raise MigrationError(f"{existing[0]} already exists; choose an empty directory for a new environment")
    parsed = sa.engine.make_url(url)
    stored_url = "" if parsed.password else url
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    ini = env.get_template("alembic.ini.j2").render(
        ini_name=str(target / INI_NAME), url=_ini_value(stored_url),
        schema_path=_ini_value(str(Path(schema_path).resolve())),
        entity_schema_path=_ini_value(str(Path(entity_schema_path).resolve())) if entity_schema_path else "",
        raw_schema=raw_schema or "", only=" ".join(only), ignore=" ".join(ignore),
        ignore_fields=" ".join(ignore_fields))
    (target / "versions").mkdir(parents=True, exist_ok=True)
    written = [target / INI_NAME, target / "env.py", target / "script.py.mako"]
    written[0].write_text(ini, encoding="utf-8")
    shutil.copyfile(TEMPLATES / "env.py", written[1])
    shutil.copyfile(Path(alembic.__file__).parent / "templates" / "generic" / "script.py.mako", written[2])
    return written
