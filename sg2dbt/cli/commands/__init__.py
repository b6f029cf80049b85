"""Click commands, one module per area, imported lazily by :mod:`sg2dbt.cli`."""
