"""One sync at a time per warehouse: a second sync waits for the first, and a stopped holder makes the next
run fail after a bounded wait with a message naming the holder (real processes, DuckDB and PostgreSQL)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.loader.test_load import assert_tables_match_site
from tests.sync.conftest import Site, sync_process, wait_for, write_config

pytestmark = pytest.mark.slow


def test_two_syncs_serialise_and_a_stopped_holder_is_named(site: Site, warehouse: tuple[sa.Engine, str, str],
                                                          tmp_path: Path) -> None:
    engine, url, raw = warehouse
    config = write_config(tmp_path, site.url, url, raw, lock_timeout=1)
    held = tmp_path / "held"
    first = sync_process(config, hold_after=1, held=held)
    wait_for(held, first)          # the first sync holds the lock, inside its first entity's transaction
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = sync_process(config)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 2, (out, err)
        message = [line for line in err.splitlines() if line.startswith("sg2dbt: error:")]
        assert len(message) == 1, err
        assert "another sync holds the warehouse lock" in message[0]
        assert f"pid {first.pid}" in message[0] and "waited 1 s" in message[0]
    finally:
        os.kill(first.pid, signal.SIGCONT)

    # A sync started while the first runs waits for it (a long lock timeout), then starts from what it committed.
    waiting_config = write_config(tmp_path, site.url, url, raw, lock_timeout=120)
    third = sync_process(waiting_config)
    site.site.update("Shot", 2, {"code": "changed while the first sync ran"})
    held.unlink()
    _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert_tables_match_site(engine, site.layout(), raw, site.sg)


def test_a_killed_holder_leaves_no_lock_behind(site: Site, warehouse: tuple[sa.Engine, str, str],
                                               tmp_path: Path) -> None:
    engine, url, raw = warehouse
    config = write_config(tmp_path, site.url, url, raw, lock_timeout=30)
    held = tmp_path / "held"
    first = sync_process(config, hold_after=1, held=held)
    wait_for(held, first)
    first.kill()
    first.communicate()
    again: Any = sync_process(config)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert_tables_match_site(engine, site.layout(), raw, site.sg)
