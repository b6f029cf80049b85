"""Bulk writes of converted rows into one raw table, inside the caller's transaction.

One writer per dialect family, each using the fastest path its driver offers (measured, see BENCHMARKS.md):

* PostgreSQL: binary ``COPY`` through psycopg 3 (``cursor.copy``), straight into the table for a full load,
  into a temporary stage table then ``INSERT ... ON CONFLICT (id) DO UPDATE`` for an upsert.
* DuckDB: the page is written as a JSON-lines temporary file that DuckDB's ``read_json`` reads natively;
  ``executemany`` was about 200 times slower for a 70-column table here.
* Anything else (SQLite, MariaDB, ...): SQLAlchemy ``executemany`` with the dialect's own upsert construct
  (``on_conflict_do_update`` / ``on_duplicate_key_update``), or delete-then-insert where there is none.

Every writer works on the caller's :class:`sqlalchemy.Connection`, so the rows and the sync state commit
or roll back together.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from sg2dbt.core.convert import Row
from sg2dbt.core.dialects import upsert_statement
from sg2dbt.core.layout import RawColumn, Role
from sg2dbt.core.typemap import STORAGE, Logical
from sg2dbt.loader import spool


class Writer:
    """The portable writer (SQLAlchemy Core); the bulk writers override :meth:`bulk`, and their
    :meth:`insert` and :meth:`upsert` go through it (:class:`BulkWriter`)."""

    json_as_text = False   # SQLAlchemy's JSON type serialises Python objects itself

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: Sequence[RawColumn]) -> None:
        self.conn = conn
        self.table = table
        self.columns = tuple(columns)
        self._attrs = [c.attr for c in self.columns]
        self.id_col = table.c[next(c.attr for c in self.columns if c.role is Role.ID)]
        self.retired_col = table.c[next(c.attr for c in self.columns if c.role is Role.RETIRED)]
        prep = conn.dialect.identifier_preparer
        self.q_table = prep.format_table(table)
        self.q_columns = [prep.quote(c.name) for c in self.columns]

    def delete_all(self) -> None:
        self.conn.execute(sa.delete(self.table))

    def delete_ids(self, ids: list[int]) -> None:
        if ids:
            self.conn.execute(sa.delete(self.table).where(self.id_col.in_(ids)))

    def flagged_ids(self) -> set[int]:
        """Ids of the rows currently flagged retired."""
        return set(self.conn.scalars(sa.select(self.id_col).where(self.retired_col.is_(True))))

    def counts(self) -> tuple[int, int]:
        """Live and retired rows, in one scan of the table (there is no index on the flag)."""
        by_flag: dict[Any, int] = dict(self.conn.execute(sa.select(self.retired_col, sa.func.count())
                                         .group_by(self.retired_col)).all())
        return int(by_flag.get(False, 0)), int(by_flag.get(True, 0))

    def _dicts(self, rows: list[Row]) -> list[dict[str, Any]]:
        attrs = self._attrs
        return [dict(zip(attrs, r, strict=True)) for r in rows]

    def insert(self, rows: list[Row]) -> None:
        """Rows whose ids are not in the table (a full load into the emptied table)."""
        if rows:
            self.conn.execute(sa.insert(self.table), self._dicts(rows))

    def upsert(self, rows: list[Row]) -> None:
        """Insert or replace by id, with the dialect's own upsert where it has one."""
        if not rows:
            return
        stmt = upsert_statement(self.conn.dialect, self.table, self.id_col.key, self._attrs)
        if stmt is None:
            self.delete_ids([r[0] for r in rows])
            stmt = sa.insert(self.table)
        self.conn.execute(stmt, self._dicts(rows))

    @contextlib.contextmanager
    def bulk(self, upsert: bool) -> Iterator[Callable[[list[Row]], None]]:
        """A sink for many pages of one pass: ``put(rows)`` per page; the pass is complete when the block ends.

        Bulk writers stream every page of the pass into ONE statement (a single COPY), so the database
        stores page n while the loader converts page n+1, instead of a round trip per page.
        """
        yield self.upsert if upsert else self.insert

    def close(self) -> None:
        """Release per-transaction resources (stage tables, temporary files)."""


class BulkWriter(Writer):
    """A writer whose native path is the bulk sink; single pages go through it too."""

    def insert(self, rows: list[Row]) -> None:
        with self.bulk(upsert=False) as put:
            put(rows)

    def upsert(self, rows: list[Row]) -> None:
        with self.bulk(upsert=True) as put:
            put(rows)


@functools.cache
def _jsonb_text_dumper() -> type[Any]:
    """psycopg's binary ``jsonb`` dumper for JSON that arrives as checked JSON text: the text as it is, after
    the jsonb version byte. psycopg's own dumper would encode the text a second time (storing a JSON string)
    or, told to send it as is (``set_json_dumps``), still spend a few Python calls a value on it."""
    import psycopg.postgres
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class JsonbText(Dumper):
        format = Format.BINARY
        oid = psycopg.postgres.types["jsonb"].oid

        def dump(self, obj: str) -> bytes:
            return b"\x01" + obj.encode()

    return JsonbText


# Pages a full load converts while the server empties the table, held until the DELETE is done (a bound on
# memory: ~12 MB of Shot rows). Emptying a table costs the server about a tenth of what converting its rows
# costs the loader, so the DELETE of a table of up to ~50,000 rows is hidden entirely, of a larger one in part.
_HELD_ROWS = 5_000


class PostgresWriter(BulkWriter):
    """JSON values arrive as JSON text (the converter encodes them once); the COPY's ``jsonb`` columns send
    that text as it is (:func:`_jsonb_text_dumper`, registered on the COPY's own cursor only).

    :meth:`delete_all` runs on a helper thread (psycopg's connection serialises its users), in the caller's
    transaction: the server empties the table while the loader converts the first pages, which the COPY holds
    (at most ``_HELD_ROWS``) until the DELETE is done; its error, if any, surfaces at the next write.
    """

    json_as_text = True

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: Sequence[RawColumn]) -> None:
        super().__init__(conn, table, columns)
        self.raw: Any = conn.connection.driver_connection
        self.types = [STORAGE[c.logical].pg_copy for c in self.columns]
        self._stage: str | None = None
        self._emptying: concurrent.futures.Future[Any] | None = None

    def delete_all(self) -> None:
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sg2dbt-delete")
        self._emptying = pool.submit(self.raw.execute, f"DELETE FROM {self.q_table}")
        pool.shutdown(wait=False)   # the thread ends with the DELETE

    def _emptied(self) -> None:
        """Wait for :meth:`delete_all`'s DELETE; raise its error."""
        emptying, self._emptying = self._emptying, None
        if emptying is not None:
            emptying.result()

    def close(self) -> None:
        # a DELETE still pending here means the load failed (or was interrupted) before its first write: it is
        # cancelled rather than waited for, as psycopg cancels a statement interrupted on the calling thread
        # (again until it ends: a cancel that reaches the server before the DELETE does is ignored). A cancel
        # that cannot be sent (a pooler without cancel support) must not replace the load's own error: then
        # the DELETE is waited for.
        while self._emptying is not None and not self._emptying.done():
            with contextlib.suppress(Exception):
                self.raw.cancel()
            concurrent.futures.wait([self._emptying], timeout=0.1)
        with contextlib.suppress(Exception):   # the load has its own error
            self._emptied()

    @contextlib.contextmanager
    def _copy(self, target: str) -> Iterator[Callable[[list[Row]], None]]:
        # psycopg's default writer: data goes out as its buffer fills, and the server stores it meanwhile. The
        # queued (threaded) writer measured no faster here and buffers up to ~32 MB when the server lags.
        sql = f"COPY {target} ({', '.join(self.q_columns)}) FROM STDIN (FORMAT BINARY)"
        held: list[list[Row]] = []
        n_held = 0
        with contextlib.ExitStack() as opened:
            write_row: Callable[[Row], None] | None = None

            def start() -> Callable[[Row], None]:
                self._emptied()
                cur = opened.enter_context(self.raw.cursor())
                cur.adapters.register_dumper(None, _jsonb_text_dumper())   # used by oid (set_types) alone
                copy = opened.enter_context(cur.copy(sql))
                copy.set_types(self.types)
                for rows in held:
                    collections.deque(map(copy.write_row, rows), 0)
                held.clear()
                return copy.write_row

            def put(rows: list[Row]) -> None:
                nonlocal write_row, n_held
                if write_row is None:
                    if self._emptying is not None and not self._emptying.done() and n_held < _HELD_ROWS:
                        held.append(rows)
                        n_held += len(rows)
                        return
                    write_row = start()
                collections.deque(map(write_row, rows), 0)

            yield put
            if write_row is None:
                start()

    def _stage_table(self) -> str:
        if self._stage is None:
            self._stage = '"_sg2dbt_stage"'
            self.conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {self._stage} "
                                      f"(LIKE {self.q_table}) ON COMMIT DROP")
        return self._stage

    def _merge_stage(self) -> None:
        stage = self._stage_table()
        cols = ", ".join(self.q_columns)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.q_columns[1:])
        self.conn.exec_driver_sql(f"INSERT INTO {self.q_table} ({cols}) SELECT {cols} FROM {stage} "
                                  f"ON CONFLICT ({self.q_columns[0]}) DO UPDATE SET {updates}")
        self.conn.exec_driver_sql(f"TRUNCATE {stage}")

    @contextlib.contextmanager
    def bulk(self, upsert: bool) -> Iterator[Callable[[list[Row]], None]]:
        target = self._stage_table() if upsert else self.q_table
        with self._copy(target) as put:
            yield put
        if upsert:
            self._merge_stage()


# read_json's ``maximum_object_size`` (DuckDB's default): its read buffers are sized from it, so a larger value
# costs memory and time on every file (1 GiB read a 2 GB dump whole into memory: 3 GB peak, 1.5x the time).
# A record longer than the buffers fails the read with DuckDB's own error, never silently (docs/loader.md).
MAX_OBJECT_SIZE = 16 * 2**20


class DuckDBWriter(BulkWriter):
    """Pages go through a JSON-lines file that ``read_json`` parses in DuckDB's own (parallel) reader.

    The rows are encoded by orjson (9 us a Shot row against 22 for ``json``, a third of the row path's time):
    their values are already checked by the rules, and for those (ints in 64 bits, finite floats, strings
    without lone surrogates, UTC datetimes, dates) orjson writes the text the rules' own encoder writes
    (compact, non-ASCII as is), which DuckDB reads back to the same values.
    """

    json_as_text = True

    def __init__(self, conn: sa.Connection, table: sa.Table, columns: Sequence[RawColumn]) -> None:
        super().__init__(conn, table, columns)
        self.raw: Any = conn.connection.driver_connection
        conn.exec_driver_sql("SET enable_progress_bar = false")   # DuckDB draws one on stdout for a long read
        self._names = [c.name for c in self.columns]
        spec = ", ".join(f"{_sql_string(c.name)}: '{STORAGE[c.logical].duckdb_read}'" for c in self.columns)
        self._select = ", ".join(f"{q}::JSON" if c.logical is Logical.JSON else q
                                 for c, q in zip(self.columns, self.q_columns, strict=True))
        self._path = spool.new_file(conn.engine.url.database)   # beside the database; stale ones removed
        self._read = f"read_json({_sql_string(self._path)}, format = 'newline_delimited', columns = {{{spec}}}"

    @contextlib.contextmanager
    def bulk(self, upsert: bool) -> Iterator[Callable[[list[Row]], None]]:
        """Every page of the pass goes into one file (disk, not memory), read by one statement at the end."""
        import orjson

        names = self._names
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        written = longest = 0
        with open(self._path, "wb") as fh:
            def put(rows: list[Row]) -> None:
                nonlocal written, longest
                lines = [dumps(dict(zip(names, r, strict=True)), option=newline) for r in rows]
                fh.writelines(lines)
                written += len(rows)
                longest = max(longest, max(map(len, lines), default=0))

            yield put
        if written:
            # the buffers fit the longest line written: a record with a huge text loads
            size = max(MAX_OBJECT_SIZE, longest)
            self.insert_select(f"SELECT {self._select} FROM {self._read}, maximum_object_size = {size})",
                               upsert=upsert)

    def insert_select(self, select: str, *, upsert: bool) -> int:
        """Insert (or upsert by id) the rows of ``select``, whose columns are :attr:`columns`; returns how many."""
        sql = f"INSERT INTO {self.q_table} ({', '.join(self.q_columns)}) {select}"
        if upsert:
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.q_columns[1:])
            sql += f" ON CONFLICT ({self.q_columns[0]}) DO UPDATE SET {updates}"
        return int(self.raw.execute(sql).fetchone()[0])

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _writer_class(dialect: sa.Dialect) -> type[Writer]:
    # COPY needs psycopg 3's cursor.copy: psycopg2 and other PostgreSQL drivers take the portable path.
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PostgresWriter
    if dialect.name == "duckdb":
        return DuckDBWriter
    return Writer


def writer_for(conn: sa.Connection, table: sa.Table, columns: Sequence[RawColumn]) -> Writer:
    """The fastest writer this connection's dialect and driver offer."""
    return _writer_class(conn.dialect)(conn, table, columns)


def json_as_text(dialect: sa.Dialect) -> bool:
    """Whether :func:`writer_for` on this dialect takes JSON values as text (else as Python objects): the
    converter is built before the writer, and must already encode JSON the way the writer wants it."""
    return _writer_class(dialect).json_as_text
