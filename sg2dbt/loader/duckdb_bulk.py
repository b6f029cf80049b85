"""DuckDB's bulk path for dumps: one ``INSERT ... SELECT`` over ``read_json`` of the dump file itself.

The row path parses every record in Python, converts it, encodes it as JSON again and hands the file to
``read_json``: Python's JSON work is most of the time, and DuckDB's own reader does the same parsing in C++ on
every core. Here each field is read as a raw JSON value and converted in SQL, in ONE statement per file.

The value rules still hold because SQL converts only what is already in stored form, the values
:mod:`sg2dbt.core.values` would return unchanged (an int in 64 bits for a bigint, a JSON string for text,
a ``{type, id}`` object with an int id for a link, a 'YYYY-MM-DD' string for a date, ...). The checks are
stricter than the rules, never looser. Any other value (a numeric string to coerce, a value to refuse) makes
the statement fail on purpose (``error()``), as does anything DuckDB's reader refuses (invalid JSON, a lone
surrogate) or the table refuses (a duplicate id): DuckDB aborts the transaction, and the loader reloads the
entity in a new transaction through the row path, which coerces the value or refuses it with the same
message naming entity, id and field as ever. So a dump is read by SQL when every value is clean, and by the
row path otherwise; the rows stored are the same either way (tests/loader/test_duckdb_bulk.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sg2dbt.core.layout import RawColumn, RawTable, Role
from sg2dbt.core.typemap import Logical, Shape
from sg2dbt.loader.reader import DumpSource
from sg2dbt.loader.writers import MAX_OBJECT_SIZE, DuckDBWriter, Writer

# The message of the deliberate failure; the loader recognises it in DuckDB's error.
NOT_STORED_FORM = "sg2dbt: value not in stored form"
_FAIL = f"error('{NOT_STORED_FORM}')"
# Patterns over a value's JSON text, quotes included: a match is a string without escapes (no backslash).
_DATE = '"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"'
_TIMESTAMP = ('"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
              '(\\.[0-9]{3}|\\.[0-9]{6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"')
# A link of a multi-entity list as its id's and its type's JSON texts side by side ('2"Shot"'): a canonical int
# of at most 18 digits (so in 64 bits; SG ids are far smaller, a longer one takes the row path), then a plain
# JSON string without a comma (the lists are stored comma-joined).
_LINK = '(0|-?[1-9][0-9]{0,17})"[^"\\\\,]*"'
_LINKS = f"{_LINK}(,{_LINK})*"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _checked(j: str, ok: str, value: str) -> str:
    """``value`` where ``j`` is JSON null or missing (NULL) or passes ``ok``; the deliberate failure otherwise."""
    return f"CASE WHEN {j} IS NULL THEN NULL WHEN {ok} THEN {value} ELSE {_FAIL} END"


def _canonical_int(text: str) -> str:
    """The JSON text ``text`` is an integer in 64 bits, written the one way Python writes it: a float
    ('3.0'), a string ('"3"'), '-0' or an overflow does not read back as the same text."""
    return f"TRY_CAST({text} AS BIGINT)::VARCHAR = {text}"


def _plain_string(text: str) -> str:
    """The JSON text is a string without escapes: its characters are the value's (``text[2:-2]``)."""
    return f"starts_with({text}, '\"') AND NOT contains({text}, '\\')"


def _value(j: str, logical: Logical) -> str:
    text = f"({j}::VARCHAR)"
    s = f"{text}[2:-2]"
    if logical is Logical.BIGINT:
        return _checked(j, _canonical_int(text), f"{text}::BIGINT")
    if logical is Logical.DOUBLE:
        # a JSON float (finite), or an int a double holds exactly (at most 15 digits < 2**53)
        return _checked(j, f"NOT starts_with({text}, '\"') AND isfinite(TRY_CAST({text} AS DOUBLE)) AND "
                           f"(length({text}) <= 15 OR contains({text}, '.') OR contains(lower({text}), 'e'))",
                        f"{text}::DOUBLE")
    if logical is Logical.BOOLEAN:
        return _checked(j, f"{text} IN ('true', 'false')", f"{text}::BOOLEAN")
    if logical is Logical.TEXT:
        # escapes are decoded by DuckDB's JSON reader; a NUL (which no warehouse stores) shows as \u0000
        return _checked(j, f"starts_with({text}, '\"') AND NOT contains({text}, '\\u0000')", f"({j} ->> '$')")
    if logical is Logical.DATE:
        return _checked(j, f"regexp_full_match({text}, {_str(_DATE)}) AND {text} >= '\"0001' "
                           f"AND TRY_CAST({s} AS DATE) IS NOT NULL", f"{s}::DATE")
    if logical is Logical.TIMESTAMPTZ:
        # one pattern (an optional Z or +HH:MM offset); naive = UTC (as the rule says) whatever the session's
        # TimeZone (the naive forms are the 19, 23 and 26 character ones, 21, 25 and 28 quoted); years 2-9998
        # only, so that no offset can take the instant outside what the rule (Python's datetime) holds; an
        # impossible day fails the cast. Checked on the JSON text, so that the value is sliced once.
        well_formed = f"{text} >= '\"0002' AND {text} < '\"9999' AND regexp_full_match({text}, {_str(_TIMESTAMP)})"
        value = f"TRY_CAST({s} || CASE WHEN length({text}) IN (21, 25, 28) THEN '+00:00' ELSE '' END AS TIMESTAMPTZ)"
        return f"CASE WHEN {j} IS NULL THEN NULL ELSE coalesce(CASE WHEN {well_formed} THEN {value} END, {_FAIL}) END"
    if logical is Logical.JSON:
        # NaN/Infinity (which DuckDB's reader accepts) and escapes (a NUL among them) take the row path
        return _checked(j, f"NOT contains({text}, 'NaN') AND NOT contains({text}, 'Infinity') "
                           f"AND NOT contains({text}, '\\u')", j)
    raise KeyError(logical)   # a new logical type needs its SQL here (never a silent fallback)


# Links are read as structs of raw JSON values: a link that is not an object (a multi-entity value that is
# not a list of objects) fails the read itself; missing keys read as NULL, extra keys ("name") are ignored.
LINK_READ = "STRUCT(id JSON, type JSON)"
LINKS_READ = f"{LINK_READ}[]"


def _link(j: str) -> str:
    """An entity link as a struct (id, type), checked once for both columns."""
    rid, link_type = f"({j}.id::VARCHAR)", f"({j}.type::VARCHAR)"
    ok = f"{_canonical_int(rid)} AND {_plain_string(link_type)}"
    return _checked(j, ok, f"{{'id': {rid}::BIGINT, 'type': {link_type}[2:-2]}}")


def _links(j: str, pairs: str) -> str:
    """A multi-entity list as a struct (ids, types) of comma-joined texts; ``pairs`` is the list of its links'
    id and type JSON texts side by side (computed once below): one pattern over them joined checks every link
    (a missing or null id or type makes its pair NULL, which the count sees)."""
    n = f"len({j})"
    ok = f"list_count({pairs}) = {n} AND regexp_full_match(array_to_string({pairs}, ','), {_str(_LINKS)})"
    ids = f"array_to_string(list_transform({j}, lambda x: x.id::VARCHAR), ',')"
    types = f"replace(array_to_string(list_transform({j}, lambda x: x.type::VARCHAR), ','), '\"', '')"
    return (f"CASE WHEN {j} IS NULL OR {n} = 0 THEN NULL WHEN {ok} THEN {{'ids': {ids}, 'types': {types}}} "
            f"ELSE {_FAIL} END")


def select_sql(table: RawTable, columns: Sequence[RawColumn], path: str, *, retired: bool,
               loaded_at: dt.datetime) -> str:
    """``SELECT`` the dump file ``path`` as rows of ``columns`` (the row converter's order).

    Three levels, so that no piece is computed twice: the read (every field as raw JSON, links as structs
    of raw JSON), the list of a multi-entity field's (id, type) texts, then one checked expression per field
    (a struct for the two columns of a link field), unpacked into the columns at the top.
    """
    fields = [(name, rf) for name, rf in table.fields.items() if rf.columns]
    spec = ", ".join(f"{_str(name)}: '{_READ.get(rf.shape, 'JSON')}'" for name, rf in fields)
    lists: list[str] = []
    checked: list[str] = []
    out: dict[str, str] = {}
    for i, (name, rf) in enumerate(fields):
        j, v = _q(name), f"_v{i}"   # v: the field's checked value; SG field names never start with '_v'
        if rf.shape is Shape.ENTITY:
            checked.append(f"{_link(j)} AS {v}")
            out[rf.column(Role.LINK_ID).name], out[rf.column(Role.LINK_TYPE).name] = f"{v}.id", f"{v}.type"
        elif rf.shape is Shape.MULTI_ENTITY:
            lists.append(f"list_transform({j}, lambda x: x.id::VARCHAR || x.type::VARCHAR) AS _p{i}")
            checked.append(f"{_links(j, f'_p{i}')} AS {v}")
            out[rf.column(Role.LINK_IDS).name], out[rf.column(Role.LINK_TYPE).name] = f"{v}.ids", f"{v}.types"
        elif name == "id":
            text = f"({j}::VARCHAR)"
            checked.append(f"CASE WHEN {_canonical_int(text)} THEN {text}::BIGINT ELSE {_FAIL} END AS {v}")
            out[rf.column(Role.ID).name] = v
        else:
            checked.append(f"{_value(j, rf.column(Role.VALUE).logical)} AS {v}")
            out[rf.column(Role.VALUE).name] = v
    for c in columns:
        if c.role is Role.RETIRED:
            out[c.name] = "TRUE" if retired else "FALSE"
        elif c.role is Role.LOADED_AT:
            out[c.name] = f"CAST({_str(loaded_at.astimezone(dt.timezone.utc).isoformat())} AS TIMESTAMPTZ)"
    read = (f"read_json({_str(path)}, format = 'newline_delimited', columns = {{{spec}}}, "
            f"maximum_object_size = {MAX_OBJECT_SIZE})")
    return (f"SELECT {', '.join(out[c.name] for c in columns)} FROM (SELECT {', '.join(checked)} FROM "
            f"(SELECT {', '.join(['*', *lists])} FROM {read}))")


_READ = {Shape.ENTITY: LINK_READ, Shape.MULTI_ENTITY: LINKS_READ}


class SqlPathRefused(Exception):   # not an error the user sees: the row path takes over
    """DuckDB refused the SQL path's statement (a value not in stored form, a record the reader or the table
    refuses); its transaction is aborted, and the entity is loaded again through the row path."""


def applies(source: Any, writer: Writer) -> bool:
    """Whether a full load of this entity can take the SQL path: a dump read into DuckDB."""
    return isinstance(source, DumpSource) and isinstance(writer, DuckDBWriter)


def dump_files(source: DumpSource, entity: str) -> list[tuple[bool, Path]] | None:
    """The entity's live and retired files, as (retired, path); None when they are not all JSON lines (a
    ``.json`` list takes the row path). Raises the dump's own errors (a missing file) as the row path does."""
    paths = [(False, source.file(entity, False)), (True, source.file(entity, True))]
    found = [(retired, p) for retired, p in paths if p is not None]
    return None if any(p.suffix != ".jsonl" for _, p in found) else found


def insert_file(writer: DuckDBWriter, table: RawTable, path: Path, *, retired: bool,
                loaded_at: dt.datetime) -> int:
    """Insert one dump file into the table (emptied for this full load; the live file first). A record read
    live then retired is stored as its retired read, as on the row path. Returns the records inserted.

    Raises :class:`SqlPathRefused` when DuckDB refuses a statement (the caller retries with the row path).
    """
    import duckdb

    read_ids = (f"SELECT TRY_CAST(id::VARCHAR AS BIGINT) FROM read_json({_str(str(path))}, format = "
                f"'newline_delimited', columns = {{'id': 'JSON'}}, maximum_object_size = {MAX_OBJECT_SIZE})")
    try:
        if retired:
            writer.raw.execute(f"DELETE FROM {writer.q_table} WHERE {writer.q_columns[0]} IN ({read_ids})")
        # a plain insert: the primary key refuses an id twice in one file, as the row path does
        return writer.insert_select(select_sql(table, writer.columns, str(path), retired=retired,
                                               loaded_at=loaded_at), upsert=False)
    except (duckdb.Error, UnicodeDecodeError) as exc:
        # UnicodeDecodeError: DuckDB's message quoting the bad record can end inside a UTF-8 character
        raise SqlPathRefused(str(exc).splitlines()[0][:200]) from None


def newest(writer: DuckDBWriter, column: RawColumn) -> dt.datetime | None:
    """The newest value of ``column`` in the table (after the live file: the pass's newest ``updated_at``)."""
    value: dt.datetime | None = writer.raw.execute(
        f"SELECT max({_q(column.name)}) FROM {writer.q_table}").fetchone()[0]
    return value
