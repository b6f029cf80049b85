"""SIGKILL at several points of a sync and of a watch cycle, then a re-run: exactly the site's rows, none lost,
none doubled (a real subprocess, held at a chosen page write by tests/support/crashhold, then killed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.loader.test_load import assert_tables_match_site
from tests.sync.conftest import Site, sync_process, wait_for, write_config

pytestmark = pytest.mark.slow


def _run(config: Path, *args: str) -> dict[str, Any]:
    proc = sync_process(config, *args)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _match(engine: sa.Engine, site: Site, raw: str) -> None:
    assert_tables_match_site(engine, site.layout(), raw, site.sg)
    engine.dispose()   # DuckDB: the next sync process opens the file


def _kill_at(config: Path, tmp_path: Path, after: int, *args: str) -> None:
    held = tmp_path / f"held-{after}"
    proc = sync_process(config, *args, hold_after=after, held=held)
    wait_for(held, proc)
    proc.kill()
    proc.communicate()


def _changes(site: Site, round_: int) -> None:
    s = site.site
    s.create("Shot", {"code": f"new {round_}"})
    s.update("Shot", 5 + round_, {"code": f"changed {round_}"})
    s.update("Asset", 2 + round_, {"code": f"asset {round_}"})
    s.update("Task", 3 + round_, {"content": f"task {round_}"})
    s.retire("Shot", 10 + round_)
    s.revive("Shot", 3) if round_ == 0 else s.retire("Asset", 12 + round_)
    s.create("ShotShotConnection", {"shot": {"type": "Shot", "id": 1}})


def test_killed_syncs_rerun_exactly(site: Site, warehouse: tuple[sa.Engine, str, str], tmp_path: Path) -> None:
    engine, url, raw = warehouse
    config = write_config(tmp_path, site.url, url, raw, workers=1)

    # Killed inside the first (full) load: in the first entity, then after some entities committed.
    for after in (1, 3):
        _kill_at(config, tmp_path, after)
    assert _run(config)["failed"] == 0
    _match(engine, site, raw)

    # Killed while applying events: inside the first entity's transaction, then after two entities committed
    # (before the reader's cursor moved).
    for round_, after in enumerate((1, 3)):
        _changes(site, round_)
        _kill_at(config, tmp_path, after)
        summary = _run(config)
        assert summary["failed"] == 0 and summary["lag_events"] == 0
        _match(engine, site, raw)

    # Killed in a --watch cycle.
    _changes(site, 2)
    _kill_at(config, tmp_path, 2, "--interval", "0.2")
    assert _run(config)["failed"] == 0
    _match(engine, site, raw)
