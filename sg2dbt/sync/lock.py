"""One sync at a time per warehouse.

PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a key derived from the raw schema, held by
one connection for the whole run; the holder is found in ``pg_locks``/``pg_stat_activity`` for the message.
DuckDB and SQLite: an exclusive ``flock`` on a file beside the database, holding the holder's host and pid.
Either lock goes away with the process that holds it (a killed sync never leaves it behind). A holder that
is alive but stuck (stopped, hung on the network) is waited for at most ``timeout`` seconds; then the run
fails with :class:`LockError` naming the holder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from sg2dbt.core.errors import Sg2dbtError

POLL = 0.2


class LockError(Sg2dbtError):
    """Another sync holds the warehouse."""


def _me() -> str:
    return f"sg2dbt sync pid {os.getpid()} on {socket.gethostname()}"


@contextlib.contextmanager
def warehouse_lock(engine: sa.Engine, raw_schema: str | None, timeout: float) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, raw_schema, timeout):
            yield
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield   # nothing else can reach an in-memory database
        return
    with _file_lock(Path(f"{database}.sg2dbt-lock"), timeout):
        yield


@contextlib.contextmanager
def _pg_lock(engine: sa.Engine, raw_schema: str | None, timeout: float) -> Iterator[None]:
    key = f"sg2dbt sync {raw_schema or 'public'}"
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        conn.execute(sa.text("select set_config('application_name', :n, false)"), {"n": _me()[:63]})
        conn.commit()
        while not conn.execute(sa.text("select pg_try_advisory_lock(hashtext(:k))"), {"k": key}).scalar_one():
            conn.commit()
            if time.monotonic() >= deadline:
                holder = conn.execute(sa.text(
                    "select a.pid, a.application_name, a.client_addr::text, a.backend_start, a.state "
                    "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                    "where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
                    "and l.classid::bigint = ((hashtext(:k)::bigint >> 32) & 4294967295) "
                    "and l.objid::bigint = (hashtext(:k)::bigint & 4294967295) "
                    "and l.pid <> pg_backend_pid() limit 1"), {"k": key}).first()
                who = (f"{holder.application_name or 'a session'} (server pid {holder.pid}, from "
                       f"{holder.client_addr or 'local'}, connected {holder.backend_start:%Y-%m-%d %H:%M:%S %Z}, "
                       f"{holder.state})") if holder else "another session"
                raise LockError(f"another sync holds the warehouse lock on schema {raw_schema or 'public'}: "
                                f"{who}; waited {timeout:g} s (sync.lock_timeout). If that process is stuck, "
                                f"stop it: the lock goes with its connection")
            time.sleep(POLL)
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.execute(sa.text("select pg_advisory_unlock(hashtext(:k))"), {"k": key})
                conn.commit()


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    import fcntl

    deadline = time.monotonic() + timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = path.read_text(encoding="utf-8", errors="replace").strip() or "another process"
                    raise LockError(f"another sync holds the warehouse lock {path}: {holder}; waited "
                                    f"{timeout:g} s (sync.lock_timeout). If that process is stuck, stop it: "
                                    f"the lock goes with it") from None
                time.sleep(POLL)
        os.ftruncate(fd, 0)
        os.write(fd, f"{_me()}, since {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n".encode())
        yield
    finally:
        os.close(fd)   # releases the flock
