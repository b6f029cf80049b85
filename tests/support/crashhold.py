"""Run ``sg2dbt`` in a subprocess that blocks at a chosen page, inside the loader's open transaction.

Crash and fault tests kill the process (or its database connection) at that point: no sleeps, no timing,
the kill lands at the same place every run. The hook wraps the loader's page write from outside, so the
production write path carries no test code. ``command(...)`` is the argv to start; ``hold_env(...)`` the
environment that arms the hold: after ``after`` pages written in the process, the file ``held`` is created
and the process waits until it is removed (or the process is killed).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HOLD_AFTER_ENV = "SG2DBT_TEST_HOLD_AFTER_PAGES"
HOLD_FILE_ENV = "SG2DBT_TEST_HOLD_FILE"


def command(*args: str) -> list[str]:
    """The argv of ``sg2dbt ARGS`` with the hold hook installed (inert unless :func:`hold_env` armed it)."""
    return [sys.executable, "-c", "from tests.support.crashhold import main; main()", *args]


def hold_env(env: Mapping[str, str], after: int | None, held: Path | None) -> dict[str, str]:
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if after:
        assert held is not None
        out[HOLD_AFTER_ENV], out[HOLD_FILE_ENV] = str(after), str(held)
    return out


def _install(after: int, held: str) -> None:
    from sg2dbt.loader.run import _EntityLoad

    written = 0
    lock = threading.Lock()

    def count_then_hold() -> None:
        nonlocal written
        with lock:
            written += 1
            hold = written == after
        if hold:
            Path(held).write_text(f"{written}\n", encoding="utf-8")
            while os.path.exists(held):
                time.sleep(0.05)

    original = _EntityLoad._write

    @functools.wraps(original)
    def write_then_hold(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        count_then_hold()

    # DuckDB's SQL path for dumps writes a whole file at a time: each file counts as one page
    original_file = _EntityLoad._insert_file

    @functools.wraps(original_file)
    def insert_file_then_hold(self: Any, *args: Any, **kwargs: Any) -> int:
        n: int = original_file(self, *args, **kwargs)
        count_then_hold()
        return n

    _EntityLoad._write = write_then_hold  # type: ignore[method-assign]
    _EntityLoad._insert_file = insert_file_then_hold  # type: ignore[method-assign]


def main() -> None:
    after = int(os.environ.get(HOLD_AFTER_ENV) or 0)
    if after:
        _install(after, os.environ[HOLD_FILE_ENV])
    from sg2dbt.cli import main as sg2dbt_main

    sg2dbt_main()
