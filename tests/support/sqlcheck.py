"""What a database and dbt's Jinja would actually run of a generated model: shared by the safety tests.

Generated model SQL may carry SG text in two places only: escaped string literals and one-line ``--``
comments. :func:`code_only` removes exactly those, so any SG text left over is text that would execute;
:func:`foreign_jinja` lists Jinja in a model that sg2dbt did not put there itself. :func:`run_script` and
:func:`tables` run generated DDL the way a user does and report what it created, :func:`layout_tables` what it
should have.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from sg2dbt.core.layout import RawLayout

# sg2dbt's own Jinja in model files: source(), the dispatched unnest macro with identifier arguments, the
# adapter's type names (t.<logical>, set once per model) and adapter.quote() of a reserved identifier.
_NAME = r"(adapter\.quote\('[a-z0-9_]+'\)|'[a-z0-9_]+')"
_OWN_JINJA = re.compile(r"\s*((source|sg2dbt_unnest_links)\(\s*(source\()?'[a-z0-9_]+', '[a-z0-9_]+'\)?"
                        rf"(,\s*{_NAME})*\s*\)|t\.[a-z]+|adapter\.quote\('[a-z0-9_]+'\))\s*")
_OWN_BLOCK = "{% set t = sg2dbt_types() %}"


def code_only(sql: str) -> str:
    """``sql`` without its ``--`` comments and with every string literal emptied."""
    out, i = [], 0
    while i < len(sql):
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
        elif sql[i] == "'":
            j = i + 1
            while (k := sql.find("'", j)) >= 0 and sql.startswith("''", k):
                j = k + 2
            assert k >= 0, f"unterminated literal in {sql!r}"
            out.append("''")
            i = k + 1
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


def foreign_jinja(sql: str) -> list[str]:
    """Jinja in a model file other than sg2dbt's own calls (block or comment tags, any other expression).

    dbt renders the whole file, comments and literals included, so this looks at the raw text.
    """
    bad = [b for b in re.findall(r"\{[%#].*?(?:[%#]\}|$)", sql, flags=re.S) if b != _OWN_BLOCK]
    bad += [e for e in re.findall(r"\{\{(.*?)\}\}", sql, flags=re.S) if not _OWN_JINJA.fullmatch(e)]
    if sql.count("{{") != len(re.findall(r"\{\{(.*?)\}\}", sql, flags=re.S)):
        bad.append("unclosed {{")
    return bad


def run_script(engine: sa.Engine, ddl: str) -> None:
    """Run a whole DDL script at once, as a user pipes it into a database client."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.executescript(ddl)  # type: ignore[union-attr]
        else:
            raw.cursor().execute(ddl)
        raw.commit()
    finally:
        raw.close()


def layout_tables(layout: RawLayout) -> dict[str, set[str]]:
    """The tables and columns the layout promises, in the shape :func:`tables` reports what exists."""
    return {t.name: {c.name for c in t.columns} for t in layout}


def tables(engine: sa.Engine, schema: str | None) -> dict[str, set[str]]:
    """Tables and their columns that exist in ``schema`` (information_schema: duckdb_engine cannot reflect)."""
    if schema is None:
        insp = sa.inspect(engine)
        return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}
    out: dict[str, set[str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select table_name, column_name from information_schema.columns "
                                    "where table_schema = :s"), {"s": schema})
        for table_name, column in rows:
            out.setdefault(table_name, set()).add(column)
    return out
