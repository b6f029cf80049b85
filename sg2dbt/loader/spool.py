"""Spool files of the DuckDB bulk path: beside the database, one set per process, stale ones removed.

The DuckDB writer streams each pass's rows into a JSON-lines file that ``read_json`` then parses. The file
lives in ``<database>.sg2dbt-spool/`` (the system's temporary directory for an in-memory database), named
``<pid>@<host>@<random>.jsonl``. A loader killed with SIGKILL cannot remove its file; the next loader on the
same database removes every file whose process (on this host) is gone, the first time it spools. Beside the
database rather than in ``/tmp``: the pass's rows take as much room as the table's new rows, which the
database's own disk is sized for, and a stale file is found where the next run looks.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from pathlib import Path

SUFFIX = ".sg2dbt-spool"
_cleaned: set[Path] = set()
_lock = threading.Lock()


def directory(database: str | None) -> Path:
    """Where spool files of ``database`` (a DuckDB path; None, "" or ":memory:" for an in-memory one) go."""
    if not database or database.startswith(":"):
        return Path(tempfile.gettempdir()) / f"sg2dbt{SUFFIX}"
    path = Path(database)
    return path.with_name(path.name + SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # someone else's process: alive
        return True
    return True


def remove_stale(where: Path) -> list[Path]:
    """Remove the spool files in ``where`` left by processes of this host that no longer run."""
    host = socket.gethostname()
    removed = []
    for path in where.glob("*@*@*.jsonl"):
        pid_text, file_host, _ = path.name.split("@", 2)
        if file_host == host and pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def new_file(database: str | None) -> str:
    """A new, empty spool file for ``database`` (the caller removes it); the first call per directory in a
    process removes stale files first."""
    where = directory(database)
    where.mkdir(exist_ok=True)
    with _lock:
        if where not in _cleaned:
            remove_stale(where)
            _cleaned.add(where)
    fd, path = tempfile.mkstemp(prefix=f"{os.getpid()}@{socket.gethostname()}@", suffix=".jsonl", dir=where)
    os.close(fd)
    return path
