"""The one map from SG data types to storage, read by the DDL/ORM emitters, the dbt emitter and the loader.

Each SG ``data_type`` resolves to a :class:`SgType`: how it is shaped in the raw table (one value column,
an entity link pair, a multi-entity list pair, or no column at all) and, for value columns, a *logical*
type. Logical types are deliberately few, and each has ONE :class:`StorageType` record in :data:`STORAGE`
(SQLAlchemy type, the loader's value rule, generated-code annotation, bulk-load types, staging casts per dbt
adapter) that every consumer reads: the metadata/ORM and standalone-module emitters, the dbt emitter and
the loader.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
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


@dataclass(frozen=True)
class StorageType:
    """Everything sg2dbt does with one logical type, in one record: adding a logical type is adding a record.

    ``convert`` says which values the loader coerces losslessly (numeric strings in number/float fields,
    'true'/'false' checkboxes, ...) or refuses: each rule's docstring says, and docs/loader.md lists them.
    ``staging_cast`` maps a dbt adapter (``target.type``) to the type the staging models CAST to, in each
    warehouse's own spelling (its documented type names), ``"default"`` serving any adapter not named; the
    dbt emitter renders these into the generated project's ``sg2dbt_types()`` macro, which every staging
    model dispatches on. ``None``: the column passes through uncast (JSON: each warehouse spells JSON
    differently and the raw table already has the right type).

    ``fast_path`` is a Python expression over the field's value ``{v}`` that the row converter
    (:mod:`sg2dbt.core.convert`) compiles into its per-table function: a value ``convert`` would return
    unchanged passes with inline type checks and no call; anything else goes through ``{convert}``. It may
    only be stricter than ``convert``, never looser (tests/loader/test_values.py compares the two on every
    damaged value it makes).
    """

    sa_type: Callable[[], TypeEngine]       # raw column type, dialect variants included
    convert: Callable[[Any], Any]            # the loader's value rule (core/values.py): what every writer stores
    annotation: str                          # Python annotation in the standalone module
    sa_code: str                             # the SQLAlchemy type expression in the standalone module
    pg_copy: str                             # psycopg binary COPY type (the PostgreSQL bulk path)
    duckdb_read: str                         # read_json column type (the DuckDB bulk path)
    spark_ddl: str                           # Spark raw-table column type (Spark has no JSON type: its text)
    arrow: Callable[[Any], Any]              # pyarrow module -> the Parquet landing's type (what Spark reads)
    staging_cast: Mapping[str, str] | None   # dbt adapter -> CAST type in staging models
    fast_path: str                           # the row converter's inline form of ``convert`` (below)


def _json() -> TypeEngine:
    return JSON().with_variant(JSONB(), "postgresql")


# Databricks inherits ``spark`` through dbt's adapter inheritance. Redshift's TEXT is VARCHAR(256), hence the
# size; Spark's TIMESTAMP is an instant shown in the session time zone, the meaning of SG's UTC date_time.
STORAGE: Mapping[Logical, StorageType] = MappingProxyType({
    Logical.TEXT: StorageType(
        sa_type=Text, convert=values.to_text, annotation="str", sa_code="sa.Text()",
        pg_copy="text", duckdb_read="VARCHAR", spark_ddl="string", arrow=lambda pa: pa.string(),
        staging_cast={"default": "text", "postgres": "text", "duckdb": "text", "spark": "string",
                      "snowflake": "varchar", "bigquery": "string", "redshift": "varchar(65535)",
                      "trino": "varchar"},
        fast_path=("({v} if {v} is None or type({v}) is str and {v}.isascii() and '\\x00' not in {v} "
                   "else {convert}({v}))")),
    Logical.BIGINT: StorageType(
        sa_type=BigInteger, convert=values.to_bigint, annotation="int", sa_code="sa.BigInteger()",
        pg_copy="int8", duckdb_read="BIGINT", spark_ddl="bigint", arrow=lambda pa: pa.int64(),
        staging_cast={"default": "bigint", "postgres": "bigint", "duckdb": "bigint", "spark": "bigint",
                      "snowflake": "bigint", "bigquery": "int64", "redshift": "bigint", "trino": "bigint"},
        fast_path="({v} if {v} is None or type({v}) is int and _MIN <= {v} <= _MAX else {convert}({v}))"),
    Logical.DOUBLE: StorageType(
        sa_type=Double, convert=values.to_double, annotation="float", sa_code="sa.Double()",
        pg_copy="float8", duckdb_read="DOUBLE", spark_ddl="double", arrow=lambda pa: pa.float64(),
        staging_cast={"default": "double precision", "postgres": "double precision", "duckdb": "double",
                      "spark": "double", "snowflake": "double", "bigquery": "float64",
                      "redshift": "double precision", "trino": "double"},
        fast_path="({v} if {v} is None or type({v}) is float and {v} - {v} == 0.0 else {convert}({v}))"),
    Logical.BOOLEAN: StorageType(
        sa_type=Boolean, convert=values.to_boolean, annotation="bool", sa_code="sa.Boolean()",
        pg_copy="bool", duckdb_read="BOOLEAN", spark_ddl="boolean", arrow=lambda pa: pa.bool_(),
        staging_cast={"default": "boolean", "postgres": "boolean", "duckdb": "boolean", "spark": "boolean",
                      "snowflake": "boolean", "bigquery": "bool", "redshift": "boolean", "trino": "boolean"},
        fast_path="({v} if {v} is None or type({v}) is bool else {convert}({v}))"),
    Logical.DATE: StorageType(
        sa_type=Date, convert=values.to_date, annotation="datetime.date", sa_code="SgDate()",
        pg_copy="date", duckdb_read="DATE", spark_ddl="date", arrow=lambda pa: pa.date32(),
        staging_cast={"default": "date", "postgres": "date", "duckdb": "date", "spark": "date",
                      "snowflake": "date", "bigquery": "date", "redshift": "date", "trino": "date"},
        fast_path="(None if {v} is None else {convert}({v}))"),
    Logical.TIMESTAMPTZ: StorageType(
        sa_type=lambda: DateTime(timezone=True), convert=values.to_utc, annotation="datetime.datetime",
        sa_code="sa.DateTime(timezone=True)", pg_copy="timestamptz", duckdb_read="TIMESTAMPTZ",
        spark_ddl="timestamp", arrow=lambda pa: pa.timestamp("us", tz="UTC"),
        staging_cast={"default": "timestamp with time zone", "postgres": "timestamp with time zone",
                      "duckdb": "timestamp with time zone", "spark": "timestamp", "snowflake": "timestamp_tz",
                      "bigquery": "timestamp", "redshift": "timestamptz", "trino": "timestamp(6) with time zone"},
        fast_path="(None if {v} is None else {convert}({v}))"),
    # JSON where the dialect has it (JSONB on PostgreSQL); DuckDB's reader takes the JSON text as VARCHAR
    Logical.JSON: StorageType(
        sa_type=_json, convert=values.json_text, annotation="Any",
        sa_code='sa.JSON().with_variant(JSONB(), "postgresql")', pg_copy="jsonb", duckdb_read="VARCHAR",
        spark_ddl="string", arrow=lambda pa: pa.string(), staging_cast=None,
        fast_path="(None if {v} is None else {convert}({v}))"),
})

# The adapters whose staging casts the records spell out (besides ``default``).
CAST_ADAPTERS: tuple[str, ...] = ("postgres", "duckdb", "spark", "snowflake", "bigquery", "redshift", "trino")


def staging_casts(adapter: str) -> dict[str, str]:
    """``{logical type name: CAST type}`` for one adapter (``default`` for adapters not listed); logical
    types that pass through uncast (JSON) are absent."""
    return {logical.value: casts.get(adapter, casts["default"])
            for logical, record in STORAGE.items() if (casts := record.staging_cast) is not None}
