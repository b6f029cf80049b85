"""The one map from SG data types to storage, read by the DDL/ORM emitters, the dbt emitter and the loader.

Each SG ``data_type`` resolves to a :class:`SgType`: how it is shaped in the raw table (one value column,
an entity link pair, a multi-entity list pair, or no column at all) and, for value columns, a *logical*
type. Logical types are deliberately few so that every consumer can map them once: SQLAlchemy types here,
dbt cast types in the dbt emitter, Python conversions in the loader.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Double, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from sg2dbt.core import values
from sg2dbt.core.model import Field

log = logging.getLogger(__name__)


class Shape(enum.Enum):
    VALUE = "value"            # one column of a logical type
    ENTITY = "entity"          # f_id BIGINT + f_type TEXT
    MULTI_ENTITY = "multi"     # f_ids TEXT + f_type TEXT, comma-separated and aligned
    NONE = "none"              # not readable through the API (pivot_column): no column, documented


class Logical(enum.Enum):
    TEXT = "text"
    BIGINT = "bigint"
    DOUBLE = "double"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMPTZ = "timestamptz"
    JSON = "json"


@dataclass(frozen=True)
class SgType:
    shape: Shape
    logical: Logical | None = None
    note: str = ""


_T, _I, _F, _B = Logical.TEXT, Logical.BIGINT, Logical.DOUBLE, Logical.BOOLEAN

TYPE_MAP: dict[str, SgType] = {
    "entity": SgType(Shape.ENTITY),
    "multi_entity": SgType(Shape.MULTI_ENTITY),
    "addressing": SgType(Shape.MULTI_ENTITY, note="addressing fields are multi-entity links"),
    "text": SgType(Shape.VALUE, _T),
    "list": SgType(Shape.VALUE, _T),
    "status_list": SgType(Shape.VALUE, _T),
    "entity_type": SgType(Shape.VALUE, _T),
    "color": SgType(Shape.VALUE, _T, "'255,0,0' or a keyword such as 'pipeline_step'"),
    "footage": SgType(Shape.VALUE, _T),
    "uuid": SgType(Shape.VALUE, _T),
    "image": SgType(Shape.VALUE, _T, "signed URL of the thumbnail; it expires"),
    "password": SgType(Shape.VALUE, _T, "SG returns a mask, never the secret"),
    "number": SgType(Shape.VALUE, _I),
    "integer": SgType(Shape.VALUE, _I),
    "duration": SgType(Shape.VALUE, _I, "minutes"),
    "percent": SgType(Shape.VALUE, _I),
    "timecode": SgType(Shape.VALUE, _I, "milliseconds"),
    "float": SgType(Shape.VALUE, _F),
    "currency": SgType(Shape.VALUE, _F),
    "checkbox": SgType(Shape.VALUE, _B),
    "date": SgType(Shape.VALUE, Logical.DATE),
    "date_time": SgType(Shape.VALUE, Logical.TIMESTAMPTZ, "UTC"),
    "serializable": SgType(Shape.VALUE, Logical.JSON),
    "url": SgType(Shape.VALUE, Logical.JSON, "SG's url dict: url, name, link_type, content_type, local paths"),
    "tag_list": SgType(Shape.VALUE, Logical.JSON, "list of tag names"),
    "pivot_column": SgType(Shape.NONE, note="pivot columns cannot be read through the API"),
}

# What a summary field returns depends on its summary_default; unknown or unset ones stay text.
SUMMARY_MAP: dict[str, Logical] = {
    "record_count": _I,
    "count": _I,
    "sum": _F,
    "average": _F,
    "maximum": _F,
    "minimum": _F,
    "percentage": _F,
    "status_percentage": _F,
    "checked": _B,
}

UNKNOWN = SgType(Shape.VALUE, _T, "unknown SG data type, stored as text")


def resolve(field: Field) -> SgType:
    """The storage of one field. ``id`` is always BIGINT whatever the dump says."""
    if field.name == "id":
        return SgType(Shape.VALUE, _I)
    if field.data_type == "summary":
        logical = SUMMARY_MAP.get(field.summary_default or "", _T)
        return SgType(Shape.VALUE, logical, f"summary ({field.summary_default or 'unknown'})")
    known = TYPE_MAP.get(field.data_type)
    if known is None:
        log.warning("%s.%s: unknown SG data type %r, stored as text", field.entity, field.name, field.data_type)
        return UNKNOWN
    return known


# What the loader stores for each logical type, and which values it coerces losslessly (numeric strings in
# number/float/... fields, 'true'/'false' checkboxes, ...) or refuses: each rule's docstring says, and
# docs/loader.md lists them. Every dialect's writer stores what these return, nothing else.
VALUE_RULES: dict[Logical, Callable[[Any], Any]] = {
    Logical.TEXT: values.to_text,
    Logical.BIGINT: values.to_bigint,
    Logical.DOUBLE: values.to_double,
    Logical.BOOLEAN: values.to_boolean,
    Logical.DATE: values.to_date,
    Logical.TIMESTAMPTZ: values.to_utc,
    Logical.JSON: values.json_text,
}


def sa_type(logical: Logical) -> TypeEngine:
    """SQLAlchemy type of a logical type: JSON where the dialect has it (JSONB on PostgreSQL)."""
    if logical is Logical.TEXT:
        return Text()
    if logical is Logical.BIGINT:
        return BigInteger()
    if logical is Logical.DOUBLE:
        return Double()
    if logical is Logical.BOOLEAN:
        return Boolean()
    if logical is Logical.DATE:
        return Date()
    if logical is Logical.TIMESTAMPTZ:
        return DateTime(timezone=True)
    return JSON().with_variant(JSONB(), "postgresql")


# The staging models' CAST target per logical type and dbt adapter (``target.type``), in each warehouse's own
# spelling (its documented type names): the dbt emitter renders these into the generated project's
# ``sg2dbt_types()`` macro, which every staging model dispatches on. JSON has no cast: each warehouse spells
# JSON differently and the raw table already has the right type. Databricks inherits ``spark`` through dbt's
# adapter inheritance; ``default`` serves any other adapter. Redshift's TEXT is VARCHAR(256), hence the size;
# Spark's TIMESTAMP is an instant shown in the session time zone, the meaning of SG's UTC date_time.
STAGING_CASTS: dict[Logical, dict[str, str]] = {
    Logical.TEXT: {"default": "text", "postgres": "text", "duckdb": "text", "spark": "string",
                   "snowflake": "varchar", "bigquery": "string", "redshift": "varchar(65535)",
                   "trino": "varchar"},
    Logical.BIGINT: {"default": "bigint", "postgres": "bigint", "duckdb": "bigint", "spark": "bigint",
                     "snowflake": "bigint", "bigquery": "int64", "redshift": "bigint", "trino": "bigint"},
    Logical.DOUBLE: {"default": "double precision", "postgres": "double precision", "duckdb": "double",
                     "spark": "double", "snowflake": "double", "bigquery": "float64",
                     "redshift": "double precision", "trino": "double"},
    Logical.BOOLEAN: {"default": "boolean", "postgres": "boolean", "duckdb": "boolean", "spark": "boolean",
                      "snowflake": "boolean", "bigquery": "bool", "redshift": "boolean", "trino": "boolean"},
    Logical.DATE: {"default": "date", "postgres": "date", "duckdb": "date", "spark": "date",
                   "snowflake": "date", "bigquery": "date", "redshift": "date", "trino": "date"},
    Logical.TIMESTAMPTZ: {"default": "timestamp with time zone", "postgres": "timestamp with time zone",
                          "duckdb": "timestamp with time zone", "spark": "timestamp",
                          "snowflake": "timestamp_tz", "bigquery": "timestamp", "redshift": "timestamptz",
                          "trino": "timestamp(6) with time zone"},
}

# The adapters whose staging casts are written above (besides ``default``).
CAST_ADAPTERS: tuple[str, ...] = ("postgres", "duckdb", "spark", "snowflake", "bigquery", "redshift", "trino")


def staging_casts(adapter: str) -> dict[str, str]:
    """``{logical type name: CAST type}`` for one adapter (``default`` for adapters not listed)."""
    return {logical.value: by_adapter.get(adapter, by_adapter["default"])
            for logical, by_adapter in STAGING_CASTS.items()}


def spark_type(logical: Logical) -> str:
    """Spark SQL type of a raw column (Spark has no JSON type: JSON stays its text, as on SQLite)."""
    return "string" if logical is Logical.JSON else STAGING_CASTS[logical]["spark"]


def arrow_type(logical: Logical) -> Any:
    """pyarrow type of a raw column in a Parquet landing (what Spark reads as :func:`spark_type`)."""
    import pyarrow as pa  # only the Parquet landing needs pyarrow

    return {
        Logical.TEXT: pa.string(), Logical.BIGINT: pa.int64(), Logical.DOUBLE: pa.float64(),
        Logical.BOOLEAN: pa.bool_(), Logical.DATE: pa.date32(), Logical.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
        Logical.JSON: pa.string(),
    }[logical]


# Source code of each logical type for the standalone module: (annotation, SQLAlchemy type expression).
_PYTHON_CODE: dict[Logical, tuple[str, str]] = {
    Logical.TEXT: ("str", "sa.Text()"),
    Logical.BIGINT: ("int", "sa.BigInteger()"),
    Logical.DOUBLE: ("float", "sa.Double()"),
    Logical.BOOLEAN: ("bool", "sa.Boolean()"),
    Logical.DATE: ("datetime.date", "SgDate()"),
    Logical.TIMESTAMPTZ: ("datetime.datetime", "sa.DateTime(timezone=True)"),
    Logical.JSON: ("Any", 'sa.JSON().with_variant(JSONB(), "postgresql")'),
}


def python_code(logical: Logical) -> tuple[str, str]:
    """``(annotation, type expression)`` of a logical type in generated Python code."""
    return _PYTHON_CODE[logical]
