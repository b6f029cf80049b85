"""Alembic env.py made by `sg2dbt migrate init`: target metadata comes from the SG schema file.

The settings live in alembic.ini (``sg2dbt.*`` keys) or in SG2DBT_DB, SG2DBT_SCHEMA_FILE and
SG2DBT_RAW_SCHEMA; the logic lives in sg2dbt.evolve.environment so that it is upgraded with sg2dbt.
"""

from logging.config import fileConfig

from alembic import context

from sg2dbt.evolve.environment import run_migrations

if context.config.config_file_name is not None:
    # keep sg2dbt's own loggers: fileConfig would otherwise disable every logger that exists already
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(context)
