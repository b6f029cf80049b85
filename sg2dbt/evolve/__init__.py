"""Schema evolution: what changed between two schemas, and bringing the raw tables up to date.

* :mod:`sg2dbt.evolve.diff` compares two :class:`~sg2dbt.core.model.Schema` objects and the raw layouts
  :func:`sg2dbt.core.layout.plan` makes of them.
* :mod:`sg2dbt.evolve.migrate` compares a schema's raw tables with a live database through Alembic's
  autogenerate API, applies what is additive and refuses what would lose data unless asked.
* :mod:`sg2dbt.evolve.environment` is what a ``sg2dbt migrate init`` Alembic environment's ``env.py`` runs.
"""
