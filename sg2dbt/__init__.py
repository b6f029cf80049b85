"""sg2dbt: from a ShotGrid schema to SQLAlchemy ORM, raw-table DDL, a loader and a dbt project.

``SGORM`` and ``SchemaType`` are imported on first use (PEP 562): importing the package, as the ``sg2dbt``
command does before every subcommand, must not pay for SQLAlchemy's ORM (``sg2dbt --help`` stays fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sg2dbt.core.errors import NamingError, SchemaError, Sg2dbtError

if TYPE_CHECKING:
    from sg2dbt.emit.orm import SGORM, SchemaType

__all__ = ["SGORM", "NamingError", "SchemaError", "SchemaType", "Sg2dbtError"]
__version__ = "0.1.0"

_LAZY = {"SGORM": "sg2dbt.emit.orm", "SchemaType": "sg2dbt.emit.orm"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sg2dbt' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
