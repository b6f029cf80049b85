"""``sg2dbt sync --watch``: a real process follows the site's event log cycle after cycle, and stops cleanly
on SIGTERM (the cycle under way finishes, exit status 0)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.loader.test_load import assert_tables_match_site
from tests.sync.conftest import Site, sync_process, write_config

pytestmark = pytest.mark.slow


def test_watch_follows_the_log_and_stops_on_sigterm(site: Site, warehouse: tuple[sa.Engine, str, str],
                                                    tmp_path: Path) -> None:
    engine, url, raw = warehouse
    config = write_config(tmp_path, site.url, url, raw)
    proc = sync_process(config, "--interval", "0.3")
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())              # the first cycle: everything loaded
        assert first["failed"] == 0
        s = site.site
        for round_ in range(3):                                  # changes while it runs, a few cycles apart
            s.update("Shot", 5 + round_, {"code": f"watched {round_}"})
            s.create("Asset", {"code": f"new asset {round_}"})
            s.retire("Task", 2 + round_)
            target = s.newest_event()
            while json.loads(proc.stdout.readline())["event_cursor"] < target:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
    assert_tables_match_site(engine, site.layout(), raw, site.sg)
