"""sg2dbt: from a ShotGrid schema to SQLAlchemy ORM, raw-table DDL, a loader and a dbt project."""

from sg2dbt.core.errors import NamingError, SchemaError, Sg2dbtError
from sg2dbt.emit.orm import SGORM, SchemaType

__all__ = ["SGORM", "NamingError", "SchemaError", "SchemaType", "Sg2dbtError"]
__version__ = "0.1.0"
